"""Architectures, the VAE, checkpoints and the training loop."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from genprior.models import WGAN, Autoencoder, create_model
from genprior.models.architectures import (
    build_decoder,
    build_encoder,
    compact_levels,
    count_parameters,
    knee_decoder,
    knee_encoder,
    paper_decoder,
    paper_encoder,
)
from genprior.models.checkpoint import load_model, read_config, save_checkpoint
from genprior.models.kinds import MODEL_KINDS
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


@pytest.mark.parametrize("kind", ["ae", "vae", "gan"])
@pytest.mark.parametrize("n", [28, 56, 128])
def test_every_kind_shares_the_decoder_architecture(kind, n):
    torch.manual_seed(0)
    model = create_model(kind, latent_dim=5, image_size=n)
    assert model.latent_dim == 5 and model.image_shape == (1, n, n)
    assert model(torch.randn(2, 5)).shape == (2, 1, n, n)
    assert str(model.decoder) == str(build_decoder("compact", 5, n))
    x = torch.rand(2, 1, n, n)
    if kind == "gan":
        assert model.critic(x).shape == (2,)
    else:
        assert model.encode(x).shape == (2, 5)
    for phase in model.phases():
        loss, logs = model.objective(phase.name, x if phase.uses_data else None, 2)
        assert loss.ndim == 0 and torch.isfinite(loss) and logs
    assert model.sample(3, torch.Generator().manual_seed(0)).shape == (3, 1, n, n)


def test_knee_vae_follows_figure_b4():
    """Figure B4 at 128x128, latent 800 (built on the meta device: no memory, no time)."""
    with torch.device("meta"):
        vae = create_model("vae", preset="paper", latent_dim=800, image_size=128, kl_weight=0.001)
        assert vae(torch.randn(2, 800)).shape == (2, 1, 128, 128)
        assert vae.encode(torch.rand(2, 1, 128, 128)).shape == (2, 800)
        enc, dec = knee_encoder(128, 1600), knee_decoder(800, 128)
        feats = enc[:-2](torch.rand(1, 1, 128, 128))
        assert feats.shape == (1, 8, 16, 16)  # [n/8, n/8, 8] before the dense layer
        h = dec[:4](torch.randn(1, 800))
        assert h.shape == (1, 16, 8, 8)  # reshaped to [n/16, n/16, 16]
    convs = [m for m in dec if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert [c.out_channels for c in convs] == [32, 64, 128, 256, *[512] * 4, *[256] * 4, *[128] * 4, *[64] * 4,
                                               32, 16, 8, 8, 1]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert isinstance(dec[-1], torch.nn.ReLU)  # the stated ReLU output
    enc_convs = [m for m in enc if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in enc_convs] == [8, 16, 32, *[64] * 3, *[128] * 3, *[256] * 3, 64, 32, 8]
    assert enc[-1].in_features == 128 * 128 // 8 and enc[-1].out_features == 1600
    assert sum(isinstance(m, torch.nn.Dropout) for m in enc) == len(enc_convs)
    with pytest.raises(ValueError, match="MNIST \\(28\\), Shapes \\(56\\) and knee \\(128\\)"):
        build_encoder("paper", 64, 3)


def test_knee_vae_runs_on_a_real_image():
    torch.manual_seed(0)
    vae = create_model("vae", preset="paper", latent_dim=800, image_size=128, kl_weight=0.001)
    assert 18e6 < count_parameters(vae) < 19e6
    loss, logs = vae.loss(torch.rand(1, 1, 128, 128))
    assert torch.isfinite(loss) and set(logs) == {"loss", "recon", "kl"}


@pytest.mark.parametrize("kind", ["ae", "gan"])
def test_paper_preset_ae_and_gan(kind):
    with torch.device("meta"):
        model = create_model(kind, preset="paper", latent_dim=8, image_size=28)
        assert model(torch.randn(2, 8)).shape == (2, 1, 28, 28)
    net = model.encoder if kind == "ae" else model.critic_net
    assert str(net[:-1]) == str(paper_encoder(28, 1)[:-1]) and net[-1].out_features == (8 if kind == "ae" else 1)
    assert sum(isinstance(m, torch.nn.Dropout) for m in model.decoder) == 3


def test_model_kinds_and_their_checkpoints(tmp_path):
    assert {k: MODEL_KINDS[k].model_class for k in ("ae", "vae", "gan")} == {"ae": Autoencoder, "vae": VAE, "gan": WGAN}
    for kind in ("ae", "gan"):
        torch.manual_seed(0)
        model = create_model(kind, latent_dim=4, image_size=16)
        save_checkpoint(model, tmp_path / kind)
        loaded = load_model(tmp_path / kind)
        assert type(loaded) is type(model) and not loaded.training
        z = torch.randn(2, 4)
        assert torch.equal(loaded(z), model.eval()(z))
    saved = read_config(tmp_path / "ae")["model"]
    assert saved == {"kind": "ae", "preset": "compact", "latent_dim": 4, "image_size": 16}
    torch.save(create_model("gan", latent_dim=4, image_size=16).state_dict(), tmp_path / "gan.pth")
    with pytest.raises(ValueError, match="refusing to load .*pickle"):
        load_model(tmp_path / "gan.pth")


def test_model_config_validation():
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        ModelConfig(preset="huge")
    with pytest.raises(ValueError, match=r"latent_dim must be >= 1 \(an integer\)"):
        ModelConfig(latent_dim=0)
    with pytest.raises(ValueError, match="unknown model kind 'flow'"):
        ModelConfig(kind="flow")
    assert ModelConfig().kl_weight == 0.01 and ModelConfig(kind="ae").to_dict().get("kl_weight") is None


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
    with pytest.raises(ValueError, match=r"steps must be >= 1 \(an integer\)"):
        TrainConfig(steps=0)


def test_cosine_schedule():
    config = TrainConfig(steps=100, lr=1.0, schedule="cosine")
    assert learning_rate(config, 1) == 1.0
    assert abs(learning_rate(config, 101) - 0.05) < 1e-12
    assert learning_rate(TrainConfig(lr=0.5), 77) == 0.5
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        TrainConfig(schedule="warmup")


def test_committed_checkpoint_configs_read_back_unchanged():
    """The paper's committed config.json files (written before kinds without a latent size) still load."""
    from pathlib import Path

    paths = sorted((Path(__file__).resolve().parent.parent / "docs" / "paper" / "models").glob("*/config.json"))
    assert paths
    for path in paths:
        saved = json.loads(path.read_text())["model"]
        assert ModelConfig(**saved).to_dict() == saved, path
