"""The training loop for all three models: files, recipes, overwrite protection, resume,
graceful interruption, mixed precision, and the CLI."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cli_runner import run_cli
from genprior.data.io import save_dataset
from genprior.models import create_model, load_model, read_config
from genprior.training.loop import BatchOrder, TrainConfig, TrainingInterrupted, train
from genprior.training.recipes import dataset_of, recipe
from genprior.training.state import STATE_DIR, latest_state, read_state

KINDS = ("ae", "vae", "gan")


def tiny(kind: str, seed: int = 0, **kw):
    torch.manual_seed(seed)
    return create_model(kind, latent_dim=3, image_size=16, **kw)


@pytest.fixture(scope="module")
def images():
    return torch.rand(128, 1, 16, 16, generator=torch.Generator().manual_seed(0))


def config(**kw) -> TrainConfig:
    base = dict(steps=12, batch_size=8, lr=1e-3, log_every=5, checkpoint_every=5, sample_every=None)
    return TrainConfig(**{**base, **kw})


def weights(path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model.safetensors"))


def same_weights(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_trains_and_writes_its_files(kind, images, tmp_path):
    model = tiny(kind)
    history = train(model, images, tmp_path / "run", config(sample_every=10), progress=False)
    run = tmp_path / "run"
    assert [row["step"] for row in history] == [5, 10, 12]
    header = (run / "losses.csv").read_text().splitlines()[0].split(",")
    expected = {"ae": ["loss"], "vae": ["loss", "recon", "kl"], "gan": ["critic", "wasserstein", "gp", "generator"]}
    assert header == ["step", "seconds", *expected[kind]]
    assert (run / "samples.png").stat().st_size > 1000
    grids = sorted(p.name for p in (run / "samples").iterdir())
    assert grids == ["step-000010.png", "step-000012.png"]  # every sample_every steps and at the end
    assert (run / "samples.png").read_bytes() == (run / "samples" / "step-000012.png").read_bytes()
    training = read_config(run)["training"]
    assert training["steps_done"] == 12 and training["finished"] and training["stopped"] == "steps"
    loaded = load_model(run)
    assert not loaded.training and loaded.config.kind == kind
    assert torch.equal(loaded(torch.ones(2, 3)), model.eval()(torch.ones(2, 3)))
    assert read_state(latest_state(run))["step"] == 12
    assert len(list((run / STATE_DIR).glob("step-*"))) == 1  # older states are removed


def test_gan_step_is_one_generator_update_after_five_critic_updates(images, tmp_path):
    train(tiny("gan"), images, tmp_path, config(steps=3), progress=False)
    state_dir = latest_state(tmp_path)
    opt = load_file(str(state_dir / "optimisers.safetensors"))
    assert float(opt["critic/0/step"]) == 15 and float(opt["generator/0/step"]) == 3
    groups = read_state(state_dir)["optimisers"]
    assert groups["critic"]["param_groups"][0]["betas"] == [0.0, 0.9]
    assert groups["generator"]["param_groups"][0]["betas"] == [0.0, 0.9]


def test_batch_order_covers_each_epoch_once_and_is_a_function_of_the_counter():
    order = BatchOrder(20, 6, seed=3)
    epoch = torch.cat([order.batch(k) for k in range(3)])
    assert len(set(epoch.tolist())) == 18  # without replacement (the last 2 are dropped)
    again = BatchOrder(20, 6, seed=3)
    assert torch.equal(again.batch(4), order.batch(4)) and torch.equal(again.batch(1), BatchOrder(20, 6, 3).batch(1))
    assert not torch.equal(order.batch(0), order.batch(3))  # a new permutation each epoch


def test_training_is_seeded_and_leaves_the_global_rng_alone(images, tmp_path):
    for k in range(2):
        model = tiny("vae")
        torch.manual_seed(123)
        before = torch.get_rng_state()
        train(model, images, tmp_path / f"r{k}", config(), progress=False)
        assert torch.equal(torch.get_rng_state(), before)
    assert same_weights(weights(tmp_path / "r0"), weights(tmp_path / "r1"))
    train(tiny("vae"), images, tmp_path / "r2", config(seed=1), progress=False)
    assert not same_weights(weights(tmp_path / "r0"), weights(tmp_path / "r2"))


def test_existing_checkpoint_is_never_silently_overwritten(images, tmp_path):
    train(tiny("ae"), images, tmp_path, config(sample_every=5), progress=False)
    before = weights(tmp_path)
    with pytest.raises(ValueError, match="already holds a checkpoint; pass `resume=True` .* or `force=True`"):
        train(tiny("ae", seed=5), images, tmp_path, config(), progress=False)
    assert same_weights(weights(tmp_path), before)
    train(tiny("ae", seed=5), images, tmp_path, config(steps=4), progress=False, force=True)
    assert read_config(tmp_path)["training"]["steps_done"] == 4
    assert not (tmp_path / "samples").exists() and not (tmp_path / "samples.png").exists()  # the old run's grids


@pytest.mark.parametrize("kind", KINDS)
def test_sigterm_saves_and_resume_matches_an_uninterrupted_run(kind, images, tmp_path):
    cfg = config(steps=14, checkpoint_every=4)
    train(tiny(kind), images, tmp_path / "full", cfg, progress=False)
    model = tiny(kind)
    objective, calls = model.objective, []
    per_step = sum(p.repeats for p in model.phases())

    def signalling_objective(phase, batch, size):
        calls.append(phase)
        if len(calls) == 6 * per_step + 1:  # during the first update of step 7
            os.kill(os.getpid(), signal.SIGTERM)
        return objective(phase, batch, size)

    model.objective = signalling_objective
    with pytest.raises(TrainingInterrupted, match="SIGTERM received: stopped after step 7"):
        train(model, images, tmp_path / "cut", cfg, progress=False)
    training = read_config(tmp_path / "cut")["training"]
    assert training["steps_done"] == 7 and not training["finished"] and training["stopped"] == "signal"
    history = train(tiny(kind, seed=9), images, tmp_path / "cut", cfg, progress=False, resume=True)
    assert same_weights(weights(tmp_path / "cut"), weights(tmp_path / "full"))
    assert [row["step"] for row in history] == [5, 7, 10, 14]
    assert read_config(tmp_path / "cut")["training"]["resumed_at"] == [7]


def test_resume_checks_model_and_recipe(images, tmp_path):
    train(tiny("vae"), images, tmp_path, config(), progress=False)
    with pytest.raises(ValueError, match="cannot resume with different settings \\(lr: 0.001 -> 0.01\\)"):
        train(tiny("vae"), images, tmp_path, config(lr=1e-2), progress=False, resume=True)
    with pytest.raises(ValueError, match="holds a different model"):
        train(tiny("ae"), images, tmp_path, config(), progress=False, resume=True)
    # a finished run resumes to nothing; more steps extend it
    assert train(tiny("vae"), images, tmp_path, config(), progress=False, resume=True)[-1]["step"] == 12
    train(tiny("vae"), images, tmp_path, config(steps=15), progress=False, resume=True)
    assert read_config(tmp_path)["training"]["steps_done"] == 15


def test_a_checkpoint_without_training_state_is_not_resumed_over(images, tmp_path):
    from genprior.models import save_checkpoint

    save_checkpoint(tiny("ae"), tmp_path)
    with pytest.raises(ValueError, match="without training state, so it cannot be resumed"):
        train(tiny("ae"), images, tmp_path, config(), progress=False, resume=True)
    train(tiny("ae"), images, tmp_path / "fresh", config(steps=2), progress=False, resume=True)  # nothing there
    assert read_config(tmp_path / "fresh")["training"]["steps_done"] == 2


def test_a_damaged_latest_pointer_is_reported(images, tmp_path):
    train(tiny("ae"), images, tmp_path, config(), progress=False)
    (tmp_path / STATE_DIR / "LATEST").write_text("step-000000099\n")
    with pytest.raises(ValueError, match="not a complete training state"):
        train(tiny("ae"), images, tmp_path, config(), progress=False, resume=True)


def test_max_seconds_stops_and_saves(images, tmp_path):
    history = train(tiny("ae"), images, tmp_path, config(steps=100_000, max_seconds=0.3), progress=False)
    training = read_config(tmp_path)["training"]
    assert training["stopped"] == "max_seconds" and training["steps_done"] == history[-1]["step"] < 100_000


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_mixed_precision_on_cpu(kind, dtype, images, tmp_path):
    # autocast really runs: the linear and convolution layers compute in the low precision
    # while the weights stay float32; without amp they compute in float32.
    def layer_dtypes(model):
        seen = []
        for layer in model.modules():
            if isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                layer.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
        return seen

    model = tiny(kind)
    seen = layer_dtypes(model)
    history = train(model, images, tmp_path, config(steps=6, amp=True, amp_dtype=dtype), progress=False)
    assert all(np.isfinite(v) for v in history[-1].values())
    assert read_config(tmp_path)["training"]["amp"] is True
    assert seen and set(seen) == {getattr(torch, dtype)}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    full = tiny(kind)
    seen_full = layer_dtypes(full)
    train(full, images, tmp_path / "full", config(steps=2), progress=False)
    assert seen_full and set(seen_full) == {torch.float32}


def test_divergence_is_reported(images, tmp_path):
    with pytest.raises(FloatingPointError, match="diverged"):
        train(tiny("ae"), images, tmp_path, config(lr=1e30, steps=10), progress=False)


def test_bad_settings():
    with pytest.raises(ValueError, match="unknown mixed-precision dtype"):
        TrainConfig(amp_dtype="int8")
    with pytest.raises(ValueError, match="betas must be two numbers"):
        TrainConfig(betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="sample_every"):
        TrainConfig(sample_every=0)


def test_recipes_follow_the_paper():
    r = recipe("vae", "mnist", "paper")
    assert (r.latent_dim, r.lr, r.batch_size, r.model, r.steps, r.schedule) == (
        8, 5e-4, 64, {"kl_weight": 0.05}, 30_000, "constant")
    r = recipe("ae", "shapes", "paper")
    assert (r.latent_dim, r.lr, r.batch_size, r.model) == (10, 5e-4, 32, {})
    assert recipe("vae", "shapes", "paper").model == {"kl_weight": 0.01}
    g = recipe("gan", "mnist", "paper")
    assert (g.lr, g.betas, g.batch_size) == (1e-4, (0.0, 0.9), 50)
    g = recipe("gan", "shapes", "compact")  # the compact GAN: the paper's loss and betas, a faster optimiser
    assert (g.lr, g.betas, g.batch_size, g.model["critic_steps"]) == (1e-3, (0.0, 0.9), 50, 2)
    k = recipe("vae", "knee", "paper")
    assert (k.latent_dim, k.model) == (800, {"kl_weight": 0.001})
    assert dataset_of({"dataset": "mnist"}, 28) == "mnist" and dataset_of({}, 56) == "shapes"
    assert dataset_of({"dataset": "shapes-plus"}, 56) == "shapes" and dataset_of({}, 128) == "knee"
    assert dataset_of({"dataset": "folder"}, 64) is None


@pytest.fixture(scope="module")
def mnist_like(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    rng = np.random.default_rng(0)
    save_dataset(path, train=rng.random((120, 1, 28, 28), dtype=np.float32),
                 test=rng.random((8, 1, 28, 28), dtype=np.float32), meta={"dataset": "mnist"})
    return path


def test_cli_uses_the_recipe_and_flags_override_it(mnist_like, tmp_path, capsys):
    assert run_cli(["train", "gan", "--data", str(mnist_like), "--out", str(tmp_path / "gan"), "--steps", "2",
                    "--quiet"]) == 0
    cfg = json.loads((tmp_path / "gan" / "config.json").read_text())
    assert cfg["model"] == {"kind": "gan", "preset": "compact", "latent_dim": 8, "image_size": 28,
                            "gp_weight": 10.0, "critic_steps": 2, "generator_ema": 0.999,
                            "generator_output": "sigmoid"}  # the compact GAN recipe
    assert (cfg["training"]["lr"], cfg["training"]["batch_size"], cfg["training"]["betas"]) == (1e-3, 50, [0.0, 0.9])
    assert run_cli(["train", "gan", "--data", str(mnist_like), "--out", str(tmp_path / "gan5"), "--steps", "1",
                    "--critic-steps", "5", "--lr", "1e-4", "--quiet"]) == 0  # flags override the recipe
    cfg = json.loads((tmp_path / "gan5" / "config.json").read_text())
    assert cfg["model"]["critic_steps"] == 5 and cfg["training"]["lr"] == 1e-4
    assert run_cli(["train", "vae", "--data", str(mnist_like), "--out", str(tmp_path / "vae0"), "--steps", "1",
                    "--quiet"]) == 0
    cfg = json.loads((tmp_path / "vae0" / "config.json").read_text())  # the compact MNIST recipe
    assert (cfg["model"]["kl_weight"], cfg["model"]["latent_dim"]) == (0.05, 8)
    assert (cfg["training"]["lr"], cfg["training"]["batch_size"], cfg["training"]["schedule"]) == (2e-3, 64, "cosine")
    assert run_cli(["train", "vae", "--data", str(mnist_like), "--out", str(tmp_path / "vae"), "--steps", "2",
                    "--batch-size", "10", "--lr", "0.01", "--kl-weight", "0.2", "--latent-dim", "5",
                    "--schedule", "constant", "--quiet"]) == 0
    cfg = json.loads((tmp_path / "vae" / "config.json").read_text())
    assert cfg["model"]["kl_weight"] == 0.2 and cfg["model"]["latent_dim"] == 5
    assert (cfg["training"]["lr"], cfg["training"]["batch_size"], cfg["training"]["schedule"]) == (0.01, 10, "constant")
    assert "trained VAE to step 2 of 2" in capsys.readouterr().out
    # resume keeps the saved recipe; a conflicting flag is refused; without --resume nothing is overwritten
    assert run_cli(["train", "vae", "--data", str(mnist_like), "--out", str(tmp_path / "vae"), "--steps", "3",
                    "--resume", "--quiet"]) == 0
    assert json.loads((tmp_path / "vae" / "config.json").read_text())["training"]["steps_done"] == 3
    assert run_cli(["train", "vae", "--data", str(mnist_like), "--out", str(tmp_path / "vae"), "--resume",
                    "--latent-dim", "6", "--quiet"]) == 2
    assert run_cli(["train", "vae", "--data", str(mnist_like), "--out", str(tmp_path / "vae"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--latent-dim 6 differs from the saved run's 5" in err and "already holds a checkpoint" in err


def test_cli_errors(mnist_like, tmp_path, capsys):
    assert run_cli(["train", "ae", "--data", str(mnist_like), "--out", str(tmp_path / "x"), "--device", "cuda",
                    "--steps", "1", "--quiet"]) == (2 if not torch.cuda.is_available() else 0)
    assert run_cli(["train", "gan", "--data", str(mnist_like), "--out", str(tmp_path / "y"), "--preset", "huge",
                    "--quiet"]) == 2
    err = capsys.readouterr().err
    if not torch.cuda.is_available():
        assert "CUDA is not available" in err
    assert "Invalid value for '--preset'" in err and "'huge' is not one of 'compact', 'paper'" in err


@pytest.mark.parametrize("kind, layout", [("vae", True), ("ae", True), ("gan", False), ("denoiser", False)])
def test_training_stores_conv_weights_channels_last_where_faster_and_restores_them(kind, layout, images,
                                                                                 tmp_path, monkeypatch):
    """On the CPU the 4-D weights are channels-last during training for the kinds measured faster so
    (bench_training_layout), and back in the default layout afterwards; the loss and weights are the
    default layout's up to the kernels' summation order."""
    import genprior.training.loop as loop

    seen = []
    original = loop._train

    def spy(model, *args, **kwargs):
        four = [p for p in model.parameters() if p.dim() == 4]  # (a weight with one channel is in both layouts)
        seen.append((all(p.is_contiguous(memory_format=torch.channels_last) for p in four),
                     sum(not p.is_contiguous() for p in four)))
        return original(model, *args, **kwargs)

    monkeypatch.setattr(loop, "_train", spy)
    model = tiny(kind) if kind != "denoiser" else create_model("denoiser", image_size=16, width=4, levels=2)
    train(model, images, tmp_path / "a", config(steps=4), progress=False)
    assert seen[-1][0] == layout and (seen[-1][1] > 0) == layout
    assert all(p.is_contiguous() for p in model.parameters())  # restored
    if layout:
        plain = tiny(kind)
        train(plain, images, tmp_path / "b", config(steps=4), progress=False, channels_last=False)
        assert seen[-1][1] == 0
        a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
        assert not same_weights(a, b)  # another summation order ...
        assert all(torch.allclose(a[k], b[k], rtol=1e-3, atol=1e-4) for k in a)  # ... the same maths
