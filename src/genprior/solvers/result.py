"""The value every reconstruction method returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from genprior.errors import DivergedError
from genprior.solvers.loop import SolveState


@dataclass
class Result:
    """A batch of reconstructions with its solver record.

    Attributes:
        x: reconstructed images ``[B, 1, H, W]``.
        z: latent codes ``[B, d]`` for generative methods, else ``None``.
        u: the deviation from the generator's range ``[B, 1, H, W]`` (sparse methods), else ``None``.
        iterations: outer iterations each image ran, ``[B]`` (int64).
        history: the solver's named statistics, each ``[R, B]`` float64 (:mod:`genprior.solvers.loop`):
            always ``"objective"``, plus the solver's own (step-size estimates ``L_z``, relative
            changes, ...); row 0 is the start and rows after an image stopped (or where it was not
            recorded) are NaN.
        converged: ``[B]`` bool, True where the per-image stopping rule (a test on the
            objective or on the iterates, see the solver) fired; False where the
            iteration cap or a failed line search stopped the image.
        seconds: wall-clock time of the whole batch.
        params: the parameters the method ran with.
        ended: how each image's iterations ended (:data:`genprior.solvers.loop.ENDINGS`:
            ``"converged"``, ``"stalled"``, ``"max_iter"``, ``"callback"``), where the method says.
    """

    x: Tensor
    z: Tensor | None
    u: Tensor | None
    iterations: Tensor
    history: dict[str, Tensor]
    converged: Tensor
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    ended: list[str] | None = None

    @classmethod
    def of(cls, state: SolveState, x: Tensor, z: Tensor | None = None, u: Tensor | None = None,
           params: dict[str, Any] | None = None, seconds: float = 0.0) -> "Result":
        """The result of a solver's ``state`` with reconstructions ``x`` (and codes ``z``, deviations ``u``)."""
        record = state.record
        return cls(x=x, z=z, u=u, iterations=record.iterations, history=record.history, converged=record.converged,
                   seconds=seconds, params=dict(params or {}), ended=list(record.ended))

    @property
    def objective(self) -> Tensor:
        """The objective's history ``[R, B]`` (``history["objective"]``)."""
        return self.history["objective"]

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

        ended = None
        if self.ended is not None:
            rows = torch.arange(len(self))[keep.cpu()] if keep.dtype == torch.bool else keep.cpu()
            ended = [self.ended[int(i)] for i in rows.reshape(-1)]
        return Result(
            x=pick(self.x), z=pick(self.z), u=pick(self.u), iterations=pick(self.iterations),
            history={k: pick(v, 1) for k, v in self.history.items()}, converged=pick(self.converged),
            seconds=self.seconds, params=dict(self.params), ended=ended,
        )
