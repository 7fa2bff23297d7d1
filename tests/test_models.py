"""Architectures, the VAE, checkpoints and the training loop."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from genprior.models.architectures import compact_levels, count_parameters, paper_decoder, paper_encoder
from genprior.models.checkpoint import load_model, read_config, save_checkpoint
from genprior.models.vae import VAE, ModelConfig
from genprior.training.loop import TrainConfig, learning_rate, train


@pytest.mark.parametrize("n, levels, base", [(28, 2, 7), (56, 3, 7), (128, 4, 8), (16, 1, 8)])
def test_compact_levels(n, levels, base):
    assert compact_levels(n) == (levels, base)


@pytest.mark.parametrize("n", [28, 56, 128])
def test_compact_vae_shapes(n):
    vae = VAE(ModelConfig(latent_dim=6, image_size=n))
    z = torch.randn(3, 6)
    assert vae(z).shape == (3, 1, n, n)
    x = torch.rand(3, 1, n, n)
    assert vae.encode(x).shape == (3, 6)
    loss, logs = vae.loss(x)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert set(logs) == {"loss", "recon", "kl"}


def test_paper_architectures_follow_appendix_b():
    # MNIST (Figure B2): 39M weights in the final dense layer, as REFERENCE.md notes.
    dec = paper_decoder(8, 28)
    assert dec(torch.randn(2, 8)).shape == (2, 1, 28, 28)
    assert dec[-2].weight.shape == (28 * 28, 64 * 28 * 28)
    enc = paper_encoder(28, 16)
    assert enc(torch.rand(2, 1, 28, 28)).shape == (2, 16)
    # Shapes (Figure B3): build on the meta device (the last layer alone has 629M weights).
    with torch.device("meta"):
        dec56 = paper_decoder(10, 56)
        enc56 = paper_encoder(56, 20)
        assert dec56(torch.randn(2, 10)).shape == (2, 1, 56, 56)
        assert enc56(torch.rand(2, 1, 56, 56)).shape == (2, 20)
    assert count_parameters(dec56[-2]) == 64 * 56 * 56 * 56 * 56 + 56 * 56
    with pytest.raises(ValueError, match="MNIST \\(28\\) and Shapes \\(56\\)"):
        paper_decoder(10, 64)


def test_model_config_validation():
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        ModelConfig(preset="huge")
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        ModelConfig(latent_dim=0)


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    vae = VAE(ModelConfig(latent_dim=4, image_size=16))
    save_checkpoint(vae, tmp_path / "ckpt", training={"steps_done": 7})
    loaded = load_model(tmp_path / "ckpt")
    z = torch.randn(2, 4)
    assert torch.equal(loaded(z), vae.eval()(z))
    assert read_config(tmp_path / "ckpt")["training"]["steps_done"] == 7
    assert not loaded.training


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="model checkpoint not found"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="missing model.safetensors"):
        load_model(tmp_path / "empty")


def test_corrupt_checkpoint_files(tmp_path):
    vae = VAE(ModelConfig(latent_dim=4, image_size=16))
    d = save_checkpoint(vae, tmp_path / "ckpt")
    (d / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match="corrupt weights file"):
        load_model(d)
    save_checkpoint(vae, d)
    (d / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt checkpoint config"):
        load_model(d)


def test_weights_that_do_not_fit_the_config(tmp_path):
    d = save_checkpoint(VAE(ModelConfig(latent_dim=4, image_size=16)), tmp_path / "ckpt")
    config = json.loads((d / "config.json").read_text())
    config["model"]["latent_dim"] = 5
    (d / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="do not fit the architecture"):
        load_model(d)


def test_pickle_files_are_refused(tmp_path):
    vae = VAE(ModelConfig(latent_dim=4, image_size=16))
    torch.save(vae.state_dict(), tmp_path / "model.pt")
    with pytest.raises(ValueError, match="refusing to load .*pickle"):
        load_model(tmp_path / "model.pt")
    (tmp_path / "weights").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="refusing to load"):
        load_model(tmp_path / "weights")


def test_training_writes_checkpoint_and_loss_log(tmp_path):
    images = torch.rand(64, 1, 16, 16)
    vae = VAE(ModelConfig(latent_dim=3, image_size=16))
    history = train(vae, images, tmp_path / "run", TrainConfig(steps=12, batch_size=8, log_every=5, seed=1),
                    progress=False)
    assert [row["step"] for row in history] == [5, 10, 12]
    assert (tmp_path / "run" / "losses.csv").read_text().splitlines()[0].startswith("step,seconds,loss")
    training = read_config(tmp_path / "run")["training"]
    assert training["steps_done"] == 12 and training["finished"] is True
    assert torch.isfinite(load_model(tmp_path / "run")(torch.zeros(1, 3))).all()


def test_training_is_deterministic(tmp_path):
    images = torch.rand(32, 1, 16, 16)
    outs = []
    for k in range(2):
        torch.manual_seed(3)
        vae = VAE(ModelConfig(latent_dim=3, image_size=16))
        train(vae, images, tmp_path / f"r{k}", TrainConfig(steps=5, batch_size=8, seed=2), progress=False)
        outs.append(vae(torch.ones(1, 3)))
    assert torch.equal(outs[0], outs[1])


def test_training_refuses_bad_input(tmp_path):
    vae = VAE(ModelConfig(latent_dim=3, image_size=16))
    with pytest.raises(ValueError, match="model expects \\[1, 16, 16\\]"):
        train(vae, torch.rand(40, 1, 28, 28), tmp_path, TrainConfig(steps=1, batch_size=8), progress=False)
    bad = torch.rand(40, 1, 16, 16)
    bad[3, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="training images contains 1 NaN"):
        train(vae, bad, tmp_path, TrainConfig(steps=1, batch_size=8), progress=False)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        TrainConfig(steps=0)


def test_cosine_schedule():
    config = TrainConfig(steps=100, lr=1.0, schedule="cosine")
    assert learning_rate(config, 1) == 1.0
    assert abs(learning_rate(config, 101) - 0.05) < 1e-12
    assert learning_rate(TrainConfig(lr=0.5), 77) == 0.5
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        TrainConfig(schedule="warmup")
