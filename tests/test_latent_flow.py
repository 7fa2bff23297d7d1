"""The learned latent density: fitting, files beside the model, the ``flow`` latent prior, ``genprior fit-flow``."""

from __future__ import annotations

import json
import math

import pytest
import torch
from tests.conftest import TinyAutoencoder

from cli_runner import run_cli
from genprior.errors import InputError
from genprior.methods import get_method
from genprior.methods.latent_priors import make_latent_prior
from genprior.models.latent_flow import FlowArchitecture, encode_images, fit_flow_to_codes
from genprior.models.latent_flow_files import FLOW_CONFIG, FLOW_WEIGHTS, attach_latent_flow, load_latent_flow

SMALL = FlowArchitecture(transforms=2, hidden=(16, 16))  # fast enough for the test suite


def _mixture(n: int, seed: int = 0) -> torch.Tensor:
    """Two clusters at +-(2, 1) with spread 0.3 in d = 2: far from N(0, I) and from any single Gaussian."""
    g = torch.Generator().manual_seed(seed)
    side = torch.where(torch.rand(n, 1, generator=g) < 0.5, -1.0, 1.0)
    return side * torch.tensor([2.0, 1.0]) + 0.3 * torch.randn(n, 2, generator=g)


@pytest.fixture(scope="module")
def mixture_flow():
    return fit_flow_to_codes(_mixture(600), steps=150, seed=0, architecture=SMALL, lr=1e-2)


def test_flow_beats_standard_normal_and_a_gaussian_on_held_out_mixture_codes(mixture_flow):
    held = mixture_flow.record["log_likelihood"]["held_out"]
    assert mixture_flow.record["fit"]["n_held_out"] == 60 and mixture_flow.record["fit"]["n_train"] == 540
    assert held["flow"] > held["standard_normal"] + 1.5  # nats per code
    assert held["flow"] > held["diagonal_gaussian"] + 0.5  # the flow finds the two clusters, not just the spread
    fresh = _mixture(400, seed=9)  # codes the fit never saw
    with torch.no_grad():
        assert mixture_flow.log_prob(fresh).mean() > held["standard_normal"] + 1.5
        # the density sits on the clusters, not between them
        assert (mixture_flow.log_prob(torch.tensor([[2.0, 1.0]])) > mixture_flow.log_prob(torch.zeros(1, 2)) + 2).all()


def test_flow_on_a_shifted_scaled_gaussian_in_d4():
    g = torch.Generator().manual_seed(1)
    codes = torch.tensor([1.0, -2.0, 0.5, 3.0]) + torch.tensor([0.2, 2.0, 0.5, 1.0]) * torch.randn(500, 4, generator=g)
    flow = fit_flow_to_codes(codes, steps=40, seed=0, architecture=SMALL)
    held = flow.record["log_likelihood"]["held_out"]
    # the exact density's mean log-likelihood is -sum(log sigma) - d/2 (1 + log 2 pi)
    exact = -math.log(0.2 * 2.0 * 0.5 * 1.0) - 2 * (1 + math.log(2 * math.pi))
    assert held["flow"] > held["standard_normal"] + 2.0
    assert abs(held["flow"] - exact) < 0.5


def test_fit_is_seeded_and_leaves_the_global_random_state_alone():
    codes = _mixture(100)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = fit_flow_to_codes(codes, steps=3, seed=4, architecture=SMALL)
    assert torch.equal(torch.get_rng_state(), before)
    b = fit_flow_to_codes(codes, steps=3, seed=4, architecture=SMALL)
    z = torch.randn(5, 2)
    assert torch.equal(a.log_prob(z), b.log_prob(z))
    assert not any(p.requires_grad for p in a.parameters())  # fitted flows are frozen


def test_flow_prior_is_finite_and_differentiable_everywhere(mixture_flow):
    model = attach_latent_flow(TinyAutoencoder(latent_dim=2), mixture_flow)
    prior = make_latent_prior("flow", model)
    for dtype in (torch.float32, torch.float64):
        z = torch.tensor([[0.0, 0.0], [1e3, -1e3], [2.0, 1.0], [-40.0, 7.0]], dtype=dtype, requires_grad=True)
        value = prior.value(z, None)
        (grad,) = torch.autograd.grad(value.sum(), z)
        assert value.dtype == dtype and torch.isfinite(value).all() and torch.isfinite(grad).all()
    mixture_flow.to(torch.float32)
    assert "latent_flow" not in " ".join(model.state_dict())  # the model's checkpoint is its own


def test_save_load_round_trip_and_load_model_attaches(tmp_path, mixture_flow):
    from genprior.models.checkpoint import build_model, load_model, save_checkpoint

    model = build_model({"kind": "ae", "preset": "compact", "latent_dim": 2, "image_size": 28})
    save_checkpoint(model, tmp_path)
    assert not hasattr(load_model(tmp_path), "latent_flow")
    from genprior.models.latent_flow_files import save_latent_flow

    save_latent_flow(mixture_flow, tmp_path)
    loaded = load_model(tmp_path)
    z = torch.randn(7, 2)
    assert torch.allclose(loaded.latent_flow.log_prob(z), mixture_flow.log_prob(z), atol=1e-6)
    record = json.loads((tmp_path / FLOW_CONFIG).read_text())
    assert record["architecture"] == {"transform": "nsf", "transforms": 2, "hidden": [16, 16], "bins": 8}
    assert record["log_likelihood"] == loaded.latent_flow.record["log_likelihood"]
    assert set(loaded.state_dict()) == set(model.state_dict())
    assert not hasattr(load_model(tmp_path, latent_flow=False), "latent_flow")


def _rewrite(directory, change) -> None:
    """Change the saved flow tensors with ``change(state)`` and record the new file's hash (a forged pair)."""
    from safetensors.torch import load_file, save_file

    from genprior.models.latent_flow_files import _sha256

    state = load_file(str(directory / FLOW_WEIGHTS))
    change(state)
    save_file(state, str(directory / FLOW_WEIGHTS))
    config = json.loads((directory / FLOW_CONFIG).read_text())
    config["weights_sha256"] = _sha256(directory / FLOW_WEIGHTS)
    (directory / FLOW_CONFIG).write_text(json.dumps(config))


@pytest.mark.parametrize("damage, message", [
    ("no_json", "has latent_flow.safetensors but no latent_flow.json"),
    ("no_weights", "has latent_flow.json but no latent_flow.safetensors"),
    ("other_weights", "SHA-256 differs"),
    ("bad_json", "corrupt latent flow config"),
    ("architecture", "transforms must be an integer from 1 to 16"),
    ("dimension", "density on R\\^3 but the model's latent dimension is 2"),
    ("mask", "structure tensor .*mask.* differs"),
    ("nan", "NaN or Inf"),
    ("shape", "do not fit the architecture"),
])
def test_damaged_flow_files_are_refused(tmp_path, mixture_flow, damage, message):
    from genprior.models.latent_flow_files import save_latent_flow

    save_latent_flow(mixture_flow, tmp_path)
    weights, config_path = tmp_path / FLOW_WEIGHTS, tmp_path / FLOW_CONFIG
    config = json.loads(config_path.read_text())
    if damage == "no_json":
        config_path.unlink()
    elif damage == "no_weights":
        weights.unlink()
    elif damage == "other_weights":
        weights.write_bytes(weights.read_bytes()[:-4] + b"\1\2\3\4")
    elif damage == "bad_json":
        config_path.write_text("{")
    elif damage in ("architecture", "dimension"):
        config.update({"architecture": {**config["architecture"], "transforms": 99}} if damage == "architecture"
                      else {"latent_dim": 3})
        config_path.write_text(json.dumps(config))
    elif damage == "mask":
        _rewrite(tmp_path, lambda s: s.update({k: ~v for k, v in s.items() if k.endswith("0.mask")}))
    elif damage == "nan":
        _rewrite(tmp_path, lambda s: s["log_scale"].fill_(float("nan")))
    else:
        _rewrite(tmp_path, lambda s: s.update(shift=torch.zeros(5)))
    with pytest.raises(InputError, match=message):
        load_latent_flow(tmp_path, latent_dim=2)


@pytest.fixture
def tomography_problem(tomo16, rng):
    """A TinyAutoencoder (d = 3) with a flow fitted to shifted codes, and measurements of images G(z)."""
    model = TinyAutoencoder()
    codes = 0.5 * torch.randn(400, 3, generator=rng) + torch.tensor([1.0, -0.5, 0.0])
    attach_latent_flow(model, fit_flow_to_codes(codes, steps=60, seed=0, architecture=SMALL, lr=1e-2))
    with torch.no_grad():
        x = model(codes[:3])
        y = tomo16.A(x) + 0.05 * torch.randn(tomo16.A(x).shape, generator=rng)
    return tomo16, model, x, y


@pytest.mark.parametrize("method, params", [("hard", {"lam": 0.05}), ("relaxed", {"lam": 0.4, "mu": 0.1})])
def test_hard_and_relaxed_converge_with_the_flow_prior(method, params, tomography_problem):
    physics, model, x, y = tomography_problem
    r = get_method(method).function(physics, y, model, latent_prior="flow", init="encoder", max_iter=2000, **params)
    assert r.converged.all() and r.params["latent_prior"] == "flow"
    for i in range(3):
        col = r.objective[: int(r.iterations[i]) + 1, i]
        assert torch.all(col[1:] <= col[:-1] + 1e-5 * col[:-1].abs())  # monotone, as the line search promises
    with torch.no_grad():
        assert torch.isfinite(model.latent_flow.log_prob(r.z)).all()


def test_flow_prior_errors(tiny_autoencoder, mixture_flow, tomo16):
    with pytest.raises(InputError, match="has no latent flow .*genprior fit-flow"):
        make_latent_prior("flow", tiny_autoencoder)
    attach_latent_flow(tiny_autoencoder, mixture_flow)  # d = 2 against the model's 3
    with pytest.raises(InputError, match="density on R\\^2 but the model's latent dimension is 3"):
        make_latent_prior("flow", tiny_autoencoder)
    with pytest.raises(InputError, match="has no encode\\(\\)"):
        encode_images(torch.nn.Linear(2, 2), torch.zeros(4, 1, 16, 16))
    with pytest.raises(InputError, match="at least 2 codes"):
        fit_flow_to_codes(torch.zeros(1, 2))
    with pytest.raises(InputError, match="steps must be"):
        fit_flow_to_codes(torch.zeros(5, 2), steps=0)
    with pytest.raises(InputError, match="NaN"):
        fit_flow_to_codes(torch.full((5, 2), float("nan")))


def test_fit_flow_command_end_to_end(fake_mnist, tmp_path, capsys):
    model = tmp_path / "ae"
    assert run_cli(["train", "ae", "--data", str(fake_mnist), "--latent-dim", "3", "--steps", "3", "--batch-size",
                    "16", "--out", str(model), "--quiet"]) == 0
    fit = ["fit-flow", "--model", str(model), "--data", str(fake_mnist), "--steps", "20", "--hidden", "8",
           "--transforms", "1"]
    assert run_cli(fit) == 0
    out = capsys.readouterr().out
    assert "held-out mean log p(z): flow" in out and "flow step 20/20" in out
    record = json.loads((model / FLOW_CONFIG).read_text())
    assert record["fit"]["n_train"] + record["fit"]["n_held_out"] == 300 and record["data"]["dataset"] == "mnist"
    assert record["architecture"]["hidden"] == [8] and record["fit"]["steps"] == 20
    assert run_cli(fit) == 2 and "already exists; pass --force" in capsys.readouterr().err
    (model / FLOW_CONFIG).unlink()  # a broken pair is replaced with --force, not read
    assert run_cli([*fit, "--force", "--quiet"]) == 0
    assert capsys.readouterr().out.count("\n") == 1
    result = tmp_path / "flow.json"
    assert run_cli(["reconstruct", "--problem", "cs", "--method", "hard", "--latent-prior", "flow", "--lam", "0.01",
                    "--model", str(model), "--data", str(fake_mnist), "--indices", "0:2", "--max-iter", "20",
                    "--out", str(result)]) == 0
    assert json.loads(result.read_text())["params"]["latent_prior"] == "flow"


@pytest.mark.parametrize("case, message", [
    ("no_encoder", "has no encode()"),
    ("no_flow", "has no latent flow"),
    ("wrong_size", "must have shape [N, 1, 28, 28]"),
    ("bad_hidden", "--hidden must be widths separated by commas"),
])
def test_fit_flow_command_errors(case, message, fake_mnist, tmp_path, capsys):
    from genprior.data.io import save_dataset

    kind = "gan" if case == "no_encoder" else "ae"
    model = tmp_path / kind
    assert run_cli(["train", kind, "--data", str(fake_mnist), "--latent-dim", "3", "--steps", "1", "--batch-size",
                    "8", "--out", str(model), "--quiet"]) == 0
    data = fake_mnist
    if case == "wrong_size":
        data = tmp_path / "small.npz"
        save_dataset(data, torch.rand(10, 1, 16, 16).numpy(), torch.rand(2, 1, 16, 16).numpy(), meta={"dataset": "t"})
    if case == "no_flow":
        args = ["reconstruct", "--problem", "cs", "--method", "hard", "--latent-prior", "flow", "--model", str(model),
                "--data", str(fake_mnist), "--indices", "0:1", "--out", str(tmp_path / "r.json")]
    else:
        args = ["fit-flow", "--model", str(model), "--data", str(data), "--steps", "2",
                *(["--hidden", "8,x"] if case == "bad_hidden" else [])]
    assert run_cli(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (model / FLOW_WEIGHTS).exists()
