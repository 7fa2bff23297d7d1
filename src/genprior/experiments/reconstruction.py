"""Pose a problem on test images, reconstruct, score: the record ``reconstruct`` writes.

``y = A x + sigma e`` with ``e`` drawn from ``seed``; the chosen method reconstructs
every image in one batch; PSNR (data range 1), NRMSE and SSIM are computed per image
and summarised (mean, std, median, range).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from genprior.evaluation.metrics import nrmse, psnr, ssim, summary
from genprior.methods import get_method
from genprior.physics.noise import gaussian_noise
from genprior.solvers.result import Result


def measure(physics, x: Tensor, noise: float, seed: int) -> Tensor:
    """Noisy measurements ``A x + noise * e`` with ``e ~ N(0, I)`` from ``seed``."""
    with torch.no_grad():
        return gaussian_noise(physics.A(x), noise, torch.Generator().manual_seed(seed))


def reconstruct(physics, y: Tensor, method: str, generator: nn.Module | None = None, **params: Any) -> Result:
    """Run the registered ``method`` on ``y``; checks it gets a generator if it needs one."""
    spec = get_method(method)
    if spec.needs_generator and generator is None:
        raise ValueError(f"method {method!r} needs a generator: pass --model DIR (a trained checkpoint)")
    return spec.function(physics, y, generator=generator, **params)


def score(x: Tensor, truth: Tensor) -> dict[str, Tensor]:
    """Per-image ``psnr``, ``nrmse`` and ``ssim`` of reconstructions ``x`` against ``truth``."""
    x = x.detach().to(truth.dtype)
    return {"psnr": psnr(x, truth), "nrmse": nrmse(x, truth), "ssim": ssim(x, truth)}


def record(result: Result, truth: Tensor, indices: list[int], **info: Any) -> dict[str, Any]:
    """The JSON-ready summary of one reconstruction run (``info`` goes in first)."""
    scores = score(result.x, truth)
    n = len(indices)
    return {
        **info,
        "n_images": n,
        "psnr_data_range": 1.0,
        "psnr": summary(scores["psnr"]),
        "nrmse": summary(scores["nrmse"]),
        "ssim": summary(scores["ssim"]),
        "seconds": round(result.seconds, 4),
        "seconds_per_image": round(result.seconds / max(n, 1), 5),
        "iterations": {"mean": float(result.iterations.double().mean()), "max": int(result.iterations.max())},
        "per_image": [
            {"index": int(i), "psnr": round(float(scores["psnr"][k]), 4), "nrmse": round(float(scores["nrmse"][k]), 6),
             "ssim": round(float(scores["ssim"][k]), 6), "iterations": int(result.iterations[k]),
             "final_objective": float(result.final_objective[k])}
            for k, i in enumerate(indices)
        ],
    }
