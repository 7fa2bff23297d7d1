"""The denoiser kind D(x, sigma): UNet shapes, EDM preconditioning, the weight average, training
that denoises, checkpoints, bad input, the exact Gaussian denoiser, and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from cli_runner import run_cli
from genprior.data.io import save_dataset
from genprior.data.shapes import make_shapes
from genprior.metrics import psnr
from genprior.models import Denoiser, GaussianDenoiser, ModelConfig, create_model, load_model, save_checkpoint
from genprior.models.averaging import average_copy, update_average
from genprior.models.denoiser import loss_weight, preconditioning, unet_channels
from genprior.models.unet import UNet
from genprior.training.loop import TrainConfig, train
from genprior.training.recipes import recipe_settings


def tiny(seed: int = 0, **kw) -> Denoiser:
    torch.manual_seed(seed)
    return create_model("denoiser", **{"image_size": 16, "width": 8, "levels": 2, **kw})


@pytest.fixture(scope="module")
def shapes14() -> torch.Tensor:
    """320 Shapes images (a circle and a rectangle) averaged down to 14x14."""
    return torch.nn.functional.avg_pool2d(torch.from_numpy(make_shapes(320, seed=0)).float(), 4)


@pytest.mark.parametrize("n, levels, sizes", [(28, 3, [28, 14, 7]), (56, 3, [56, 28, 14]), (16, 3, [16, 8, 4]),
                                              (28, 4, [28, 14, 7, 4]), (13, 2, [13, 7])])
def test_unet_keeps_the_image_shape_at_every_size(n, levels, sizes):
    net = UNet(unet_channels(8, levels))
    seen = []
    for block in net.down:  # each level's size, recorded on the way down
        block[0].register_forward_hook(lambda _m, _i, out: seen.append(out.shape[-1]))
    x = torch.rand(3, 1, n, n)
    assert net(x, torch.rand(3)).shape == (3, 1, n, n) and seen == sizes
    assert unet_channels(8, 4) == (8, 16, 32, 32)


def test_preconditioning_is_edms():
    s_data = 0.3
    sigma = torch.tensor([1e-7, 0.01, 0.1, 1.0, 100.0], dtype=torch.float64)
    c_skip, c_out, c_in, c_noise = preconditioning(sigma, s_data)
    assert c_skip[0] == pytest.approx(1, abs=1e-12) and c_out[0] == pytest.approx(1e-7, rel=1e-6)  # D -> x
    assert c_skip[-1] == pytest.approx(0, abs=1e-4) and c_out[-1] == pytest.approx(s_data, rel=1e-4)
    torch.testing.assert_close(c_in**2 * (sigma**2 + s_data**2), torch.ones_like(sigma))  # unit-variance input
    torch.testing.assert_close(loss_weight(sigma, s_data) * c_out**2, torch.ones_like(sigma))  # unit-weight target
    torch.testing.assert_close(c_noise, sigma.log() / 4)
    # the untrained network outputs 0, so D = c_skip x: the MMSE denoiser of N(0, s_data^2 I) data
    model = tiny(sigma_data=s_data).eval()
    gauss = GaussianDenoiser(torch.zeros(1, 16, 16), s_data**2 * torch.eye(256))
    x, levels = torch.randn(4, 1, 16, 16), torch.tensor([0.01, 0.1, 0.5, 2.0])
    torch.testing.assert_close(model(x, levels), gauss(x, levels), rtol=1e-5, atol=1e-6)


def test_weight_average_follows_its_warm_up_schedule():
    net = torch.nn.Linear(2, 1)
    avg, count = average_copy(net), torch.zeros((), dtype=torch.long)
    assert not any(p.requires_grad for p in avg.parameters())
    start = avg.weight.clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    update_average(avg, net, count, beta=0.999)
    b1 = 2 / 11  # min(beta, (1 + t) / (10 + t)) at t = 1
    torch.testing.assert_close(avg.weight, b1 * start + (1 - b1) * net.weight)
    for _ in range(5000):
        update_average(avg, net, count, beta=0.5)
    torch.testing.assert_close(avg.weight, net.weight)
    assert int(count) == 5001


def test_the_average_is_the_network_in_evaluation_mode_and_is_saved(tmp_path):
    model = tiny()
    x = torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        for p in model.net.parameters():
            p.add_(0.1 * torch.randn_like(p))  # the trained weights move; the average has not
    model.after_update("model")
    assert int(model.average_updates) == 1
    assert not torch.allclose(model.train()(x, 0.1), model.eval()(x, 0.1))
    save_checkpoint(model, tmp_path / "d")
    loaded = load_model(tmp_path / "d")
    assert isinstance(loaded, Denoiser) and not loaded.training
    torch.testing.assert_close(loaded(x, 0.1), model.eval()(x, 0.1), rtol=0, atol=0)
    saved = json.loads((tmp_path / "d" / "config.json").read_text())["model"]
    assert saved == {"kind": "denoiser", "preset": "compact", "image_size": 16, "width": 8, "sigma_min": 0.005,
                     "sigma_max": 2.5, "sigma_data": 0.25, "levels": 2, "blocks": 1, "ema": 0.999}
    assert "latent_dim" not in saved and ModelConfig(**saved).to_dict() == saved
    no_average = tiny(ema=0.0)
    assert not hasattr(no_average, "net_average")
    assert torch.equal(no_average.train()(x, 0.1), no_average.eval()(x, 0.1))


def test_a_short_training_run_denoises(shapes14, tmp_path):
    model = tiny(sigma_data=0.2, image_size=14)
    config = TrainConfig(steps=60, batch_size=32, lr=3e-3, schedule="cosine", log_every=20, sample_every=None)
    history = train(model, shapes14[:256], tmp_path / "run", config, progress=False)
    assert history[-1]["loss"] < 0.75 * history[0]["loss"]
    test = shapes14[256:]
    for sigma in (0.1, 0.2):
        noisy = test + sigma * torch.randn(test.shape, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            gain = float(psnr(model.eval()(noisy, sigma), test).mean() - psnr(noisy, test).mean())
        assert gain > 3.0, f"PSNR gain {gain:.2f} dB at sigma {sigma}"  # 60 steps: 5.4 and 8.4 dB
    assert (tmp_path / "run" / "model.safetensors").exists()


def test_a_resumed_run_equals_an_uninterrupted_one(shapes14, tmp_path):
    from safetensors.torch import load_file

    config = TrainConfig(steps=6, batch_size=8, lr=1e-3, log_every=2, checkpoint_every=3, sample_every=None)
    train(tiny(image_size=14), shapes14[:64], tmp_path / "full", config, progress=False)
    train(tiny(image_size=14), shapes14[:64], tmp_path / "cut", TrainConfig(**{**config.to_dict(), "steps": 3}),
          progress=False)
    train(tiny(seed=5, image_size=14), shapes14[:64], tmp_path / "cut", config, progress=False, resume=True)
    full, cut = load_file(str(tmp_path / "full" / "model.safetensors")), load_file(str(tmp_path / "cut" /
                                                                                      "model.safetensors"))
    assert full.keys() == cut.keys() and "average_updates" in full and int(full["average_updates"]) == 6
    assert all(torch.equal(full[k], cut[k]) for k in full)  # the weights and their average


def test_the_loop_grid_shows_noisy_and_denoised_images(shapes14, tmp_path):
    model = tiny(sigma_max=0.3, image_size=14)
    preview = model.eval().preview(shapes14[:32], torch.Generator().manual_seed(0))
    assert preview.ncol == 1 + 2 * 3 and preview.images.shape == (4 * 7, 1, 14, 14)  # 0.05, 0.1, 0.2 in range
    assert torch.equal(preview.images[0], shapes14[0]) and "sigma 0.05, 0.1, 0.2" in preview.title
    again = model.preview(shapes14[:32], torch.Generator().manual_seed(0))
    assert torch.equal(preview.images, again.images)  # the same noise every time


def test_bad_input_is_an_input_error():
    model = tiny(sigma_min=0.01, sigma_max=1.0).eval()
    x = torch.rand(3, 1, 16, 16)
    with pytest.raises(ValueError, match=r"sigma 2 is outside the denoiser's trained range \[0.01, 1\]"):
        model(x, 2.0)
    with pytest.raises(ValueError, match=r"sigma 0.001 is outside"):
        model(x, torch.tensor([0.1, 0.001, 0.5]))
    with pytest.raises(ValueError, match="made for images of shape \\[B, 1, 16, 16\\], got \\[3, 1, 28, 28\\]"):
        model(torch.rand(3, 1, 28, 28), 0.1)
    with pytest.raises(ValueError, match="sigma has 2 values for 3 images"):
        model(x, torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="sigma must be finite"):
        model(x, float("nan"))
    assert model(x, torch.full((3, 1, 1, 1), 0.1)).shape == x.shape  # [B, 1, 1, 1] levels are fine
    assert model(x, 0.01 * (1 - 1e-9)).shape == x.shape  # rounding at the end of a schedule
    assert model(x.double(), 0.1).dtype == torch.float64
    with pytest.raises(ValueError, match="sigma_min 1 must be below sigma_max 0.5"):
        tiny(sigma_min=1.0, sigma_max=0.5)
    with pytest.raises(ValueError, match="a denoiser has no latent space"):
        ModelConfig(kind="denoiser", latent_dim=4)
    with pytest.raises(ValueError, match="the denoiser kind has no 'paper' preset"):
        ModelConfig(kind="denoiser", preset="paper")


def test_recipes_fit_each_data_set():
    for dataset, size, sigma_data in (("mnist", 28, 0.336), ("shapes", 56, 0.176), ("knee", 128, 0.25)):
        model_config, train_config = recipe_settings("denoiser", dataset, "compact", size)
        assert model_config.sigma_data == sigma_data and model_config.latent_dim is None
        assert model_config.sigma_min <= 0.025 and model_config.sigma_max >= 0.4  # the report card's levels
        assert train_config.steps > 0 and train_config.schedule in ("constant", "cosine")
    assert recipe_settings("denoiser", None, "compact", 40)[0].sigma_data == 0.25  # unknown data: the default
    with pytest.raises(ValueError, match="the denoiser has no 'paper' preset"):
        recipe_settings("denoiser", "mnist", "paper", 28)


def dense_mmse(mean, cov, x, sigma):
    """m + C (C + sigma^2 I)^{-1} (x - m) for one image, by a dense float64 solve."""
    P = cov.shape[0]
    return mean + cov @ torch.linalg.solve(cov + sigma**2 * torch.eye(P, dtype=torch.float64), x - mean)


def random_gaussian(n: int, rank: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    factor = torch.randn(n * n, rank, generator=g, dtype=torch.float64) / math.sqrt(rank)
    return torch.rand(n * n, generator=g, dtype=torch.float64), factor @ factor.T  # rank-deficient C


def test_gaussian_denoiser_is_the_closed_form():
    mean, cov = random_gaussian(6, rank=20)
    denoiser = GaussianDenoiser(mean.reshape(1, 6, 6), cov)
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    levels = torch.tensor([0.05, 0.3, 2.0], dtype=torch.float64)
    out = denoiser(x, levels)
    for b in range(3):
        torch.testing.assert_close(out[b].reshape(-1), dense_mmse(mean, cov, x[b].reshape(-1), float(levels[b])),
                                   rtol=1e-10, atol=1e-10)
    assert denoiser(x.float(), 0.3).dtype == torch.float32
    x.requires_grad_(True)
    denoiser(x, 0.3).sum().backward()  # differentiable in x (DPS needs it)
    assert x.grad is not None and torch.isfinite(x.grad).all()
    with pytest.raises(ValueError, match=r"sigma 0 is outside the Gaussian denoiser's range"):
        denoiser(x, 0.0)


def test_gaussian_posterior_is_the_closed_form():
    mean, cov = random_gaussian(4, rank=16, seed=1)  # full rank: the information form applies
    cov = cov + 0.01 * torch.eye(16, dtype=torch.float64)
    denoiser = GaussianDenoiser(mean.reshape(1, 4, 4), cov)
    A = torch.randn(7, 16, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    y = torch.randn(2, 7, dtype=torch.float64)
    post_mean, post_cov = denoiser.posterior(A, y, noise=0.1)
    precision = torch.linalg.inv(cov) + A.T @ A / 0.01
    expected_cov = torch.linalg.inv(precision)
    torch.testing.assert_close(post_cov, expected_cov, rtol=1e-8, atol=1e-10)
    expected = (expected_cov @ (torch.linalg.solve(cov, mean)[:, None] + A.T @ y.T / 0.01)).T
    torch.testing.assert_close(post_mean.reshape(2, -1), expected, rtol=1e-8, atol=1e-10)
    # denoising is the case A = I, s = sigma: the posterior mean is D(y, sigma)
    y_img = torch.rand(2, 1, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(denoiser.posterior(torch.eye(16), y_img, 0.2)[0], denoiser(y_img, 0.2))


def test_gaussian_fit_estimates_mean_and_covariance():
    images = torch.rand(50, 1, 5, 5, generator=torch.Generator().manual_seed(0))
    fitted = GaussianDenoiser.fit(images, sigma_min=0.01)
    flat = images.double().flatten(1)
    torch.testing.assert_close(fitted.mean, flat.mean(0))
    torch.testing.assert_close(fitted.cov, torch.from_numpy(np.cov(flat.numpy(), rowvar=False)))
    assert fitted.sigma_min == 0.01
    with pytest.raises(ValueError, match="images of at most 3136 pixels \\(56x56\\)"):
        GaussianDenoiser.fit(torch.rand(3, 1, 64, 64))
    with pytest.raises(ValueError, match="at least 2 images"):
        GaussianDenoiser.fit(images[:1])
    with pytest.raises(ValueError, match="must be symmetric"):
        GaussianDenoiser(torch.zeros(1, 2, 2), torch.tensor([[1.0, 0.5, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0],
                                                             [0, 0, 0, 1]]))


@pytest.fixture(scope="module")
def shapes_file(tmp_path_factory, shapes14):
    path = tmp_path_factory.mktemp("denoiser") / "shapes14.npz"  # meta says Shapes: its recipe applies
    save_dataset(path, train=shapes14[:256].numpy(), test=shapes14[256:].numpy(), meta={"dataset": "shapes"})
    return path


def test_cli_trains_resumes_and_evaluates_a_denoiser(shapes_file, tmp_path, capsys):
    run = tmp_path / "run"
    common = ["--data", str(shapes_file), "--out", str(run), "--quiet", "--width", "8", "--levels", "2",
              "--batch-size", "16"]
    assert run_cli(["train", "denoiser", *common, "--steps", "3"]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["kind"] == "denoiser" and cfg["model"]["sigma_data"] == 0.176  # the Shapes recipe
    assert cfg["training"]["lr"] == 1e-3 and cfg["training"]["steps_done"] == 3
    assert run_cli(["train", "denoiser", *common, "--steps", "3"]) == 2  # never overwritten silently
    assert run_cli(["train", "denoiser", "--data", str(shapes_file), "--out", str(run), "--steps", "5", "--resume",
                    "--quiet"]) == 0
    assert json.loads((run / "config.json").read_text())["training"]["resumed_at"] == [3]
    assert run_cli(["train", "denoiser", *common, "--steps", "2", "--force"]) == 0
    assert run_cli(["train", "denoiser", *common, "--latent-dim", "4"]) == 2
    out = tmp_path / "report"
    assert run_cli(["evaluate", str(run), "--data", str(shapes_file), "--out", str(out), "--sigmas", "0.1,0.2",
                    "--no-digits"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    levels = metrics["denoising"]["levels"]
    assert [lv["sigma"] for lv in levels] == [0.1, 0.2] and all(lv["tv"]["psnr"] > lv["noisy_psnr"] for lv in levels)
    assert "| 0.1 |" in (out / "report.md").read_text() and (out / "denoising_psnr.png").exists()
    assert "run: denoising PSNR (TV) at sigma 0.1:" in capsys.readouterr().out
    assert run_cli(["evaluate", str(run), "--data", str(shapes_file), "--out", str(tmp_path / "r2"),
                    "--sigmas", "0.001"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "trained on noise levels [0.005, 2.5]" in err and "--sigmas" in err
    small = tmp_path / "small.npz"
    save_dataset(small, train=np.random.rand(8, 1, 12, 12), test=np.random.rand(8, 1, 12, 12), meta={})
    assert run_cli(["evaluate", str(run), "--data", str(small), "--out", str(tmp_path / "r3")]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "denoises images of shape [1, 14, 14] but the data are [1, 12, 12]" in err


def test_gaussian_denoiser_reaches_the_mmse_on_gaussian_data():
    """E ||D(x + sigma e) - x||^2 = sum_i l_i sigma^2 / (l_i + sigma^2) for x ~ N(m, C), the MMSE."""
    mean, cov = random_gaussian(5, rank=10, seed=3)
    denoiser = GaussianDenoiser(mean.reshape(1, 5, 5), cov)
    g = torch.Generator().manual_seed(4)
    factor = denoiser.eigenvectors * denoiser.eigenvalues.sqrt()  # C = F F^T
    x = (mean + torch.randn(20_000, 25, generator=g, dtype=torch.float64) @ factor.T).reshape(-1, 1, 5, 5)
    sigma = 0.3
    y = x + sigma * torch.randn(x.shape, generator=g, dtype=torch.float64)
    mse = (denoiser(y, sigma) - x).pow(2).flatten(1).sum(1).mean()
    lam = denoiser.eigenvalues
    assert float(mse) == pytest.approx(float((lam * sigma**2 / (lam + sigma**2)).sum()), rel=0.03)


def test_the_denoising_table_and_the_sampler_hook():
    from genprior.evaluation.denoising import DenoisingSettings, denoising_reference, evaluate_denoiser, unit_noise

    test = torch.rand(12, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    denoiser = GaussianDenoiser.fit(torch.rand(200, 1, 8, 8, generator=torch.Generator().manual_seed(1)))
    settings = DenoisingSettings(sigmas=(0.1, 0.3), n=50, tune_n=4, n_samples=3)
    reference = denoising_reference(test, settings)["summary"]
    assert reference["settings"]["n"] == 8  # 12 images: 4 tune TV, 8 are denoised
    calls = []

    def sampler(d, n, generator):
        calls.append(n)
        return d(torch.randn(n, 1, 8, 8, generator=generator) + 0.5, 1.0)

    result = evaluate_denoiser(denoiser, test, settings, sampler=sampler)
    clean = test[:8]
    y = clean + 0.3 * unit_noise(clean, 0)  # the same noise as the reference's
    assert result["summary"]["levels"][1]["psnr"] == pytest.approx(float(psnr(denoiser(y, 0.3), clean).mean()))
    assert calls == [3] and result["samples"].shape == (3, 1, 8, 8) and result["summary"]["samples"]["n"] == 3
    assert "no diffusion sampler" in evaluate_denoiser(denoiser, test, settings)["summary"]["samples"]["note"]
    assert all(lv["tv"]["lam"] == pytest.approx(lv["sigma"] * lv["tv"]["factor"]) for lv in reference["levels"])
