"""The denoiser's report card: denoising PSNR against the noise level, next to TV denoising.

For each noise level ``sigma`` (default 0.025, 0.05, 0.1, 0.2, 0.4) the first ``n`` test
images ``x`` get the same unit noise ``e ~ N(0, I)`` (seeded), ``y = x + sigma e``; a
denoiser's estimate is ``D(y, sigma)``, TV's is

    argmin_x ||x - y||^2 + lam TV(x)       (genprior's ``tv`` method, PDHG to convergence),

with ``lam = sigma 2^(k/2)``, ``k = -2 ... 4`` (0.5 to 4 sigma), the value of the grid
with the best mean PSNR on ``tune_n`` other images (the last test images, with their own
noise).  PSNR uses data range 1 and is averaged over images.  What does not depend on the denoiser (the
noisy inputs' PSNR, TV's) is computed once (:func:`denoising_reference`) and shared by
the denoisers of a report (:func:`evaluate_denoiser`).

Samples: a denoiser is also a diffusion prior.  Given a ``sampler(denoiser, n, generator)
-> [n, 1, H, W]`` (a diffusion sampler; genprior's lives with the methods),
:func:`evaluate_denoiser` draws samples and, with a digit classifier (MNIST), scores them
as the report card scores a generator's; without one the report says samples were not
drawn.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.metrics import psnr

SIGMAS = (0.025, 0.05, 0.1, 0.2, 0.4)
TV_GRID = tuple(2 ** (k / 2) for k in range(-2, 5))  # lam / sigma: 0.5 ... 4
Sampler = Callable[[nn.Module, int, torch.Generator], Tensor]


@dataclass
class DenoisingSettings:
    """Sizes and seeds of the denoising table.

    Attributes:
        sigmas: the noise levels.
        n: test images denoised at each level (the first ``n``).
        tune_n: images that choose TV's ``lam`` per level (the last ``tune_n`` test images).
        tv_grid: TV's ``lam / sigma`` values tried.
        batch_size: images a denoiser takes at once.
        examples: test images shown in the example figure.
        n_samples: samples drawn when a sampler is given.
        seed: seed of the noise (tuning images: ``seed + 1``) and of the samples.
    """

    sigmas: tuple[float, ...] = SIGMAS
    n: int = 100
    tune_n: int = 5
    tv_grid: tuple[float, ...] = TV_GRID
    batch_size: int = 100
    examples: int = 6
    n_samples: int = 1000
    seed: int = 0

    def resolved(self, n_test: int) -> DenoisingSettings:
        """Check the sizes against ``n_test`` test images (``n`` shrinks to what the tuning images leave)."""
        for name in ("tune_n", "batch_size", "examples", "n_samples"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.sigmas or any(not (isinstance(s, (int, float)) and 0 < s < float("inf")) for s in self.sigmas):
            raise InputError(f"the noise levels must be positive numbers, got {self.sigmas!r}")
        if n_test < self.tune_n + 1:
            raise InputError(f"the denoising table needs more than {self.tune_n} test images ({self.tune_n} tune "
                             f"TV), got {n_test}")
        n = min(self.n, n_test - self.tune_n)
        if n < 1:
            raise InputError(f"n must be >= 1, got {self.n}")
        return DenoisingSettings(**{**asdict(self), "n": n, "sigmas": tuple(float(s) for s in self.sigmas)})


def parse_sigmas(text: str) -> tuple[float, ...]:
    """Noise levels from text such as ``"0.05,0.1"``; :class:`InputError` unless each is a positive number."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or not all(0 < v < float("inf") for v in values):
        raise InputError(f"noise levels must be positive numbers separated by commas, got {text!r}")
    return values


def unit_noise(images: Tensor, seed: int) -> Tensor:
    """``e ~ N(0, I)`` shaped like ``images`` from a generator seeded with ``seed`` (CPU, then ``images``' device)."""
    e = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)
    return e.to(images.device, images.dtype)


@torch.no_grad()
def denoise(denoiser: nn.Module, y: Tensor, sigma: float, batch_size: int) -> Tensor:
    """``D(y, sigma)`` in batches of ``batch_size`` (on the denoiser's device; result on ``y``'s)."""
    p = next(itertools.chain(denoiser.parameters(), denoiser.buffers()), None)
    device = p.device if p is not None else y.device
    return torch.cat([denoiser(y[i:i + batch_size].to(device), sigma).to(y.device)
                      for i in range(0, y.shape[0], batch_size)])


def tv_denoise(y: Tensor, lam: Tensor) -> tuple[Tensor, Tensor]:
    """TV denoising of ``y`` ``[B, 1, n, n]`` with a ``lam`` per image: ``(x, converged [B])``."""
    from genprior.methods import get_method
    from genprior.physics.problems import make_operator

    result = get_method("tv").function(make_operator("denoising", y.shape[-1]), y, lam=lam)
    return result.x, result.converged


def tune_tv(clean: Tensor, noisy: Tensor, sigma: float, grid: tuple[float, ...]) -> dict:
    """TV's ``lam = sigma g`` for ``g`` in ``grid`` with the best mean PSNR on (clean, noisy) pairs."""
    k = clean.shape[0]
    lams = torch.tensor([sigma * g for g in grid], dtype=noisy.dtype).repeat_interleave(k)  # [len(grid) k]
    x, _ = tv_denoise(noisy.repeat(len(grid), 1, 1, 1), lams)
    scores = psnr(x, clean.repeat(len(grid), 1, 1, 1)).reshape(len(grid), k).mean(1)
    best = int(scores.argmax())
    return {"lam": sigma * grid[best], "factor": grid[best], "on_edge": best in (0, len(grid) - 1),
            "tuning_psnr": scores.tolist()}


def denoising_reference(test: Tensor, settings: DenoisingSettings | None = None,
                        log: Callable[[str], None] | None = None) -> dict:
    """What every denoiser is compared with: the noisy inputs and TV at each level.

    Returns the dict below (the examples are tensors for the figure)::

        {"summary": {"settings", "levels": [{"sigma", "noisy_psnr", "tv": {"lam", "factor",
         "on_edge", "psnr", "psnr_std", "converged"}}], "seconds"},
         "examples": {sigma: {"noisy", "tv"}}}
    """
    s = (settings or DenoisingSettings()).resolved(test.shape[0])
    say = log or (lambda _msg: None)
    start = time.perf_counter()
    clean, tune = test[: s.n], test[-s.tune_n:]
    e, e_tune = unit_noise(clean, s.seed), unit_noise(tune, s.seed + 1)
    levels, examples = [], {}
    for sigma in s.sigmas:
        y = clean + sigma * e
        choice = tune_tv(tune, tune + sigma * e_tune, sigma, s.tv_grid)
        x, converged = tv_denoise(y, torch.full((s.n,), choice["lam"], dtype=y.dtype))
        scores = psnr(x, clean)
        levels.append({"sigma": sigma, "noisy_psnr": float(psnr(y, clean).mean()),
                       "tv": {**choice, "psnr": float(scores.mean()), "psnr_std": float(scores.std(unbiased=False)),
                              "converged": float(converged.float().mean())}})
        examples[sigma] = {"noisy": y[: s.examples], "tv": x[: s.examples]}
        say(f"sigma {sigma:g}: noisy {levels[-1]['noisy_psnr']:.2f} dB, TV {levels[-1]['tv']['psnr']:.2f} dB "
            f"(lam {choice['lam']:.3g})")
    summary = {"settings": {**asdict(s), "tv_grid": list(s.tv_grid), "sigmas": list(s.sigmas)}, "levels": levels,
               "seconds": time.perf_counter() - start}
    return {"summary": summary, "examples": examples}


def evaluate_denoiser(denoiser: nn.Module, test: Tensor, settings: DenoisingSettings | None = None,
                      sampler: Sampler | None = None, classifier: nn.Module | None = None) -> dict:
    """A denoiser's PSNR at each level on the reference's images and noise (and samples, given a ``sampler``).

    Returns the dict below; ``summary["samples"]`` holds the digit scores of the samples (with
    a ``classifier``) or says why there are none::

        {"summary": {"levels": [{"sigma", "psnr", "psnr_std"}], "seconds", "samples"},
         "examples": {sigma: D(y)}, "samples": tensor or None}
    """
    s = (settings or DenoisingSettings()).resolved(test.shape[0])
    start = time.perf_counter()
    clean = test[: s.n]
    e = unit_noise(clean, s.seed)
    levels, examples = [], {}
    for sigma in s.sigmas:
        x = denoise(denoiser, clean + sigma * e, sigma, s.batch_size).to(clean.dtype)
        scores = psnr(x, clean)
        levels.append({"sigma": sigma, "psnr": float(scores.mean()), "psnr_std": float(scores.std(unbiased=False))})
        examples[sigma] = x[: s.examples]
    seconds = time.perf_counter() - start
    samples, sample_info = None, {"note": "no diffusion sampler was given: samples not drawn"}
    if sampler is not None:
        start = time.perf_counter()
        samples = sampler(denoiser, s.n_samples, torch.Generator().manual_seed(s.seed + 7)).float().cpu()
        sample_info = {"n": int(samples.shape[0]), "seconds": time.perf_counter() - start}
        if classifier is not None:
            from genprior.evaluation.digits import digit_quality

            sample_info["digits"] = digit_quality(samples, classifier).to_dict()
    return {"summary": {"levels": levels, "seconds": seconds, "samples": sample_info}, "examples": examples,
            "samples": samples}


def check_denoiser_fits(denoiser: nn.Module, test: Tensor, sigmas: tuple[float, ...], name: str = "model") -> None:
    """Raise :class:`InputError` unless ``denoiser`` takes images shaped like ``test`` at every level of ``sigmas``."""
    shape = tuple(getattr(denoiser, "image_shape", test.shape[1:]))
    if shape != tuple(test.shape[1:]):
        raise InputError(f"{name} denoises images of shape {list(shape)} but the data are {list(test.shape[1:])}; "
                         "evaluate a model on the data set it was trained for")
    low, high = getattr(denoiser, "sigma_min", 0.0), getattr(denoiser, "sigma_max", float("inf"))
    outside = [s for s in sigmas if not low <= s <= high]
    if outside:
        raise InputError(f"{name} was trained on noise levels [{low:g}, {high:g}]; the denoising table's "
                         f"{', '.join(f'{s:g}' for s in outside)} lie outside it: choose `sigmas=` within it")


def is_denoiser(model: nn.Module) -> bool:
    """Whether the report card treats ``model`` as a denoiser ``D(x, sigma)`` (the ``denoiser`` kind)."""
    from genprior.models.denoiser import Denoiser
    from genprior.models.gaussian_denoiser import GaussianDenoiser

    return isinstance(model, (Denoiser, GaussianDenoiser))
