"""Conformance checks: what every entry of a registry must do, run on any entry, built-in or installed.

genprior's own tests run these over every registered method, problem and model kind
(``tests/test_contracts.py``), so an entry an installed package adds is checked as
soon as it is installed beside genprior; a package's authors can call them in their
own tests (``genprior.conformance.check_method("landweber")``).  Each check builds a
tiny problem and raises :class:`ConformanceError` naming what the entry got wrong.

- :func:`check_problem`: the operator is linear with an exact adjoint
  (``<A x, y> = <x, A^T y>``), has norm 1, treats each image of a batch alone, and runs
  in float64; where it offers ``prox_l2`` the proximal step solves its equations.
- :func:`check_method`: the method solves a tiny compressed-sensing problem to its
  stopping rule (or to the end of its fixed schedule, as a diffusion sampler does),
  returns finite images of the right shape with an objective history, records every
  field of its parameter dataclass, takes ``fidelity=`` (and uses it, or refuses one it
  cannot use with an :class:`~genprior.errors.InputError`) and ``callback=`` (and stops
  when the callback says so).  A method that takes a denoiser runs with the exact MMSE
  denoiser of a Gaussian fitted to the tiny generator's samples (:func:`tiny_denoiser`).
- :func:`check_model_kind`: a model of the kind trains a few steps with the shared
  loop, saves, and loads back with the same weights and outputs.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import torch
from torch import Tensor, nn


class ConformanceError(AssertionError):
    """A registry entry does not meet the contract; the message says which part."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConformanceError(message)


class TinyGenerator(nn.Module):
    """A fixed small generator ``G: [B, d] -> [B, 1, n, n]`` with an encoder, for method checks."""

    def __init__(self, latent_dim: int = 3, n: int = 12, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.latent_dim, self.n = latent_dim, n
        self.w1 = nn.Parameter(torch.randn(latent_dim, 32, generator=g) / latent_dim ** 0.5)
        self.w2 = nn.Parameter(torch.randn(32, n * n, generator=g) / 32 ** 0.5)
        self.e = nn.Parameter(torch.randn(n * n, latent_dim, generator=g) / n)

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(torch.tanh(z @ self.w1) @ self.w2).reshape(-1, 1, self.n, self.n)

    def encode(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1) @ self.e


# -- problems -----------------------------------------------------------------------------------


def check_problem(name: str, image_size: int = 16) -> None:
    """Check the registered problem ``name`` with its default options on ``image_size`` images."""
    from genprior.physics.operator import adjointness_error
    from genprior.physics.problems import make_operator

    op = make_operator(name, image_size)
    _require(hasattr(op, "in_shape") and hasattr(op, "out_shape"), f"{name}: the operator has no in_shape/out_shape")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, *op.in_shape, generator=g, dtype=torch.float64)
    y = torch.randn(3, *op.out_shape, generator=g, dtype=torch.float64)
    op64 = make_operator(name, image_size).double()
    with torch.no_grad():
        ax = op64.A(x)
        _require(tuple(ax.shape) == (3, *op.out_shape), f"{name}: A maps [3, *in_shape] to {list(ax.shape)}, not "
                 f"[3, *out_shape] = {[3, *op.out_shape]}")
        error = adjointness_error(op64, x, y)
        _require(error < 1e-10, f"{name}: A_adjoint is not the adjoint of A (relative dot-product error {error:.2e})")
        single = torch.cat([op64.A(x[i : i + 1]) for i in range(3)])
        _require(torch.allclose(single, ax, rtol=1e-10, atol=1e-12), f"{name}: A of a batch differs from A of each "
                 "image alone")
        norm = op64.norm()
        _require(abs(norm - 1.0) < 1e-4, f"{name}: the operator's norm is {norm:.6f}, not 1 (normalise it)")
        prox_l2 = getattr(op64, "prox_l2", None)
        if callable(prox_l2):
            gamma = 0.7
            p = prox_l2(x, y, gamma)
            residual = p + gamma * op64.A_adjoint(op64.A(p)) - (x + gamma * op64.A_adjoint(y))
            size = float((x + gamma * op64.A_adjoint(y)).norm())
            _require(float(residual.norm()) <= 1e-4 * size, f"{name}: prox_l2 does not solve "
                     f"(I + gamma A^T A) x = z + gamma A^T y (relative residual {float(residual.norm()) / size:.1e})")


# -- methods ------------------------------------------------------------------------------------


TINY_NOISE = 0.02  # the measurement noise of the tiny problem


def _tiny_problem(latent_dim: int = 3, n: int = 12, images: int = 3):
    from genprior.physics.problems import make_operator

    generator = TinyGenerator(latent_dim, n)
    physics = make_operator("cs", n, measurements=n * n // 3)
    with torch.no_grad():
        truth = generator(torch.randn(images, latent_dim, generator=torch.Generator().manual_seed(1)))
        y = physics.A(truth) + TINY_NOISE * torch.randn(images, *physics.out_shape,
                                                        generator=torch.Generator().manual_seed(2))
    return physics, generator, truth, y


def tiny_denoiser(generator: nn.Module, images: int = 200) -> nn.Module:
    """The exact MMSE denoiser ``D(x, sigma)`` of the Gaussian fitted to ``images`` samples of
    ``generator`` (codes ``N(0, I)`` drawn with seed 3, apart from the tiny problem's), for the
    checks of methods that take a denoiser."""
    from genprior.models.gaussian_denoiser import GaussianDenoiser

    with torch.no_grad():
        samples = generator(torch.randn(images, generator.latent_dim, generator=torch.Generator().manual_seed(3)))
    return GaussianDenoiser.fit(samples)


def check_method(name: str) -> None:
    """Check the registered method ``name`` on a tiny compressed-sensing problem with its defaults."""
    from genprior.errors import InputError
    from genprior.methods import get_method
    from genprior.physics.fidelity import SquaredL2, WeightedL2
    from genprior.solvers.loop import ENDINGS, Iteration
    from genprior.solvers.result import Result

    entry = get_method(name)
    physics, generator, truth, y = _tiny_problem()
    prior = {"generator": generator if entry.needs_generator else None,
             **({"denoiser": tiny_denoiser(generator)} if entry.needs_denoiser else {}),
             **entry.problem_values(TINY_NOISE)}  # the noise level, for a method that needs it (ddrm)
    seen: list[Iteration] = []
    result = entry.function(physics, y, **prior, fidelity=SquaredL2(), callback=seen.append)
    _require(isinstance(result, Result), f"{name}: returns {type(result).__name__}, not a genprior Result")
    _require(tuple(result.x.shape) == tuple(truth.shape), f"{name}: x has shape {list(result.x.shape)}, not "
             f"{list(truth.shape)}")
    _require(bool(torch.isfinite(result.x).all()), f"{name}: x holds NaN or Inf")
    _require("objective" in result.history and result.objective.shape[1] == 3 and
             bool(torch.isfinite(result.objective[0]).all()), f"{name}: no objective history [R, 3] with a finite start")
    _require(result.ended is not None and set(result.ended) <= set(ENDINGS) and
             all((e == "converged") == bool(c) for e, c in zip(result.ended, result.converged)),
             f"{name}: Result.ended {result.ended} does not say how each image ended ({', '.join(ENDINGS)}), "
             "consistently with converged")
    ended = [e for e in result.ended if e not in ("converged", "finished")]
    _require(not ended, f"{name}: {len(ended)} of 3 images neither reached the stopping rule nor finished a fixed "
             f"schedule (ended {result.ended}) on a tiny well-posed problem with the default parameters")
    fields = [f.name for f in dataclasses.fields(entry.parameters)]
    missing = [f for f in fields if f not in result.params]
    _require(not missing, f"{name}: Result.params leaves out {', '.join(missing)} (record every parameter)")
    _require(bool(seen) and all(isinstance(i, Iteration) for i in seen), f"{name}: callback= was never called "
             "(run the solver on genprior.solvers.loop.iterate)")

    stopped = entry.function(physics, y, **prior, callback=lambda info: info.iteration >= 2)
    _require(int(stopped.iterations.max()) <= 2 and stopped.ended is not None and "max_iter" not in stopped.ended,
             f"{name}: a callback returning True after iteration 2 did not stop the iterations (iterations "
             f"{stopped.iterations.tolist()}, ended {stopped.ended})")

    weights = torch.zeros(physics.out_shape)
    weights[: weights.numel() // 4] = 1.0  # a quarter of the measurements
    try:
        partial = entry.function(physics, y, **prior, fidelity=WeightedL2(weights))
    except InputError:
        return  # a method that cannot use this fidelity says so (ddrm assumes Gaussian noise)
    _require(not torch.allclose(partial.x, result.x), f"{name}: fidelity= is ignored (a fidelity that drops three "
             "quarters of the data gave the same images)")


# -- model kinds --------------------------------------------------------------------------------


def check_model_kind(name: str, directory: str | Path | None = None) -> None:
    """Check that the registered model kind ``name`` trains two steps, saves and loads back (16x16 images)."""
    from genprior.models.checkpoint import load_model
    from genprior.models.config import architecture_of
    from genprior.training.loop import train
    from genprior.training.recipes import recipe_settings

    images = torch.rand(8, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    has_latent = "latent_dim" in {f.name for f in dataclasses.fields(architecture_of(name))}  # not a denoiser
    model_config, config = recipe_settings(name, None, "compact", 16, latent_dim=2 if has_latent else None, steps=2,
                                           batch_size=4, log_every=1, checkpoint_every=2, sample_every=None)
    from genprior.models.checkpoint import build_model

    torch.manual_seed(0)
    model = build_model(model_config.to_dict())
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(directory) if directory is not None else Path(scratch) / "run"
        history = train(model, images, out, config, progress=False)
        _require(len(history) >= 1 and all(k in history[-1] for k in ("step", "seconds")),
                 f"{name}: training logged no losses")
        loaded = load_model(out)
        _require(type(loaded) is type(model), f"{name}: loads as {type(loaded).__name__}, not {type(model).__name__}")
        model.eval()
        theirs, ours = loaded.state_dict(), model.state_dict()
        _require(theirs.keys() == ours.keys() and all(torch.equal(theirs[k], ours[k]) for k in ours),
                 f"{name}: the loaded weights differ from the trained ones")


__all__ = ["ConformanceError", "TinyGenerator", "check_method", "check_model_kind", "check_problem", "tiny_denoiser"]
