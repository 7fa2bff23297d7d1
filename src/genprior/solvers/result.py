"""The value every reconstruction method returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from genprior.errors import DivergedError


@dataclass
class Result:
    """A batch of reconstructions with its solver record.

    Attributes:
        x: reconstructed images ``[B, 1, H, W]``.
        z: latent codes ``[B, d]`` for generative methods, else ``None``.
        u: the deviation from the generator's range ``[B, 1, H, W]`` (sparse methods), else ``None``.
        iterations: outer iterations each image ran, ``[B]`` (int64).
        objective: objective history ``[K + 1, B]``; row 0 is the initial value and
            rows after an image stopped (or where it was not recorded) are NaN.
        converged: ``[B]`` bool, True where the per-image stopping rule (a test on the
            objective or on the iterates, see the solver) fired; False where the
            iteration cap or a failed line search stopped the image.
        seconds: wall-clock time of the whole batch.
        params: the parameters the method ran with.
    """

    x: Tensor
    z: Tensor | None
    u: Tensor | None
    iterations: Tensor
    objective: Tensor
    converged: Tensor
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def final_objective(self) -> Tensor:
        """The last recorded (non-NaN) objective value of each image, ``[B]``."""
        hist = self.objective
        recorded = ~torch.isnan(hist)
        rows = torch.arange(hist.shape[0], device=hist.device).unsqueeze(1).expand_as(hist)
        last = torch.where(recorded, rows, torch.zeros_like(rows)).amax(0)
        return hist.gather(0, last.unsqueeze(0)).squeeze(0)

    @property
    def n_converged(self) -> int:
        """How many images met their stopping rule before the iteration cap."""
        return int(self.converged.sum())

    def require_finite(self, method: str) -> "Result":
        """Return ``self`` if every image is finite; else raise ``FloatingPointError`` naming the images.

        A reconstruction holding NaN or Inf is never handed back as if it were an answer
        (a mean PSNR over it would be garbage).
        """
        bad = (~torch.isfinite(self.x.detach()).reshape(len(self), -1).all(1)).nonzero().flatten().tolist()
        if bad:
            shown = ", ".join(str(i) for i in bad[:10]) + (", ..." if len(bad) > 10 else "")
            raise DivergedError(
                f"method {method!r} produced NaN or Inf for {len(bad)} of {len(self)} images (rows {shown}): "
                "the solve diverged or the generator returns non-finite values at the starting codes; check the "
                "data, the parameters (a smaller step, e.g. eta, or larger L0) and the model"
            )
        return self

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def select(self, keep: Tensor) -> "Result":
        """The sub-batch of images ``keep`` (indices or a boolean mask)."""
        def pick(t: Tensor | None, dim: int = 0) -> Tensor | None:
            if t is None:
                return None
            k = keep.to(t.device)
            return t[k] if dim == 0 else t[:, k]

        return Result(
            x=pick(self.x), z=pick(self.z), u=pick(self.u), iterations=pick(self.iterations),
            objective=pick(self.objective, 1), converged=pick(self.converged),
            seconds=self.seconds, params=dict(self.params),
        )


def stack_history(rows: list[Tensor]) -> Tensor:
    """Stack per-iteration ``[B]`` rows into a ``[K, B]`` history on the CPU."""
    return torch.stack([r.detach().to("cpu", torch.float64) for r in rows])
