"""A learned latent density ``p(z)``: a normalising flow fitted to a model's encoder codes.

The paper's latent prior ``||z||^2`` is ``-2 log N(z; 0, I)`` up to a constant: it assumes
the codes of the training images are standard normal.  A VAE's codes miss ``N(0, I)``
(criterion B2 of the report card), an AE's were never asked to follow it.  The latent
prior ``flow`` (:mod:`genprior.methods.latent_priors`) uses ``R_Z(z) = -log p(z)`` with
the density of this module instead, fitted by maximum likelihood to the codes
``E(x_i)`` of the training images::

    s = (z - m) / sigma                       (standardised with the codes' mean and std)
    log p(z) = log N(T(s); 0, I) + log |det dT/ds| - sum_j log sigma_j

where ``T`` is a stack of autoregressive transforms from ``zuko``: rational-quadratic
spline transforms (NSF, Durkan et al. 2019) for small latent spaces, affine ones (MAF,
Papamakarios et al. 2017) with one hidden layer for large ones, where a spline flow would
be slow to fit.  Both are bijections of all of ``R^d`` (the splines are the identity
outside ``[-5, 5]``), so ``-log p(z)`` is finite and differentiable for every ``z`` a
solver visits.  ``zuko`` is imported inside the functions that build a flow.

Saving, loading and attaching a flow to its model: :mod:`genprior.models.latent_flow_files`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.params import Params, param
from genprior.validation import MAX_SEED, check_finite

TRANSFORMS = ("nsf", "maf")
MAX_LATENT_DIM = 4096  # a flow over more coordinates than this is refused
SPLINE_MAX_DIM = 64  # above this the default flow is affine (MAF): a spline flow fits too slowly on a CPU


def _widths(value: Any) -> tuple[int, ...]:
    """Hidden widths from ``"64,64"`` or a sequence of integers."""
    if isinstance(value, str):
        try:
            value = [int(v) for v in value.replace(" ", "").split(",") if v]
        except ValueError:
            raise ValueError(f"must be widths separated by commas, such as 64,64; got {value!r}") from None
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= 4 or not all(_is_int(v, 1, 4096) for v in value):
        raise ValueError(f"must be 1 to 4 layer widths from 1 to 4096, got {value!r}")
    return tuple(value)


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True)
class FlowArchitecture(Params):
    """The shape of the flow ``T``; a field left ``None`` takes its default for the latent
    dimension (:meth:`resolved`): NSF with 3 transforms of (64, 64) for ``d <= 64``, MAF
    with 2 transforms of (256,) above."""

    transform: str | None = param(None, "the flow's transforms: nsf (rational-quadratic splines) or maf (affine)",
                                  choices=TRANSFORMS, what="flow transform")
    transforms: int | None = param(None, "number of autoregressive transforms", minimum=1, maximum=16)
    hidden: tuple[int, ...] | None = param(None, "hidden layer widths of each transform's network, such as 64,64",
                                           convert=_widths)
    bins: int = param(8, "spline bins (nsf only)", minimum=2, maximum=64)

    def resolved(self, latent_dim: int) -> FlowArchitecture:
        """Every ``None`` field set to its default for latent dimension ``latent_dim``."""
        small = latent_dim <= SPLINE_MAX_DIM
        defaults = {"transform": "nsf", "transforms": 3, "hidden": (64, 64)} if small else \
            {"transform": "maf", "transforms": 2, "hidden": (256,)}
        return FlowArchitecture(**{k: v if v is not None else defaults.get(k) for k, v in self.values().items()})

    def to_dict(self) -> dict[str, Any]:
        return {**self.values(), "hidden": None if self.hidden is None else list(self.hidden)}


ARCHITECTURE_DEFAULTS = {"transform": "nsf for d <= 64, else maf", "transforms": "3 for nsf, 2 for maf",
                         "hidden": "64,64 for nsf, 256 for maf"}


@dataclass(frozen=True)
class FitSettings(Params):
    """How the flow is fitted: Adam on the mean negative log-likelihood of minibatches,
    cosine learning-rate decay, a held-out share of the codes kept out for the report."""

    steps: int = param(1000, "Adam steps of the fit", minimum=1, maximum=10**7)
    batch_size: int = param(256, "codes per minibatch", minimum=1, maximum=10**6)
    lr: float = param(2e-3, "Adam's initial learning rate (cosine decay to 0)", above=0, maximum=1)
    held_out: float = param(0.1, "share of the codes kept out of the fit to report its held-out log-likelihood",
                            above=0, below=1)
    seed: int = param(0, "seed of the split, the initial weights and the minibatches", minimum=0, maximum=MAX_SEED)


class LatentFlow(nn.Module):
    """The density ``p(z)`` on ``R^d`` (see the module docstring), with its fit record.

    Attributes:
        latent_dim: ``d``.
        architecture: the :class:`FlowArchitecture` of ``T``.
        record: how it was fitted and the log-likelihoods it reached (JSON-ready).
    """

    def __init__(self, latent_dim: int, architecture: FlowArchitecture | None = None) -> None:
        super().__init__()
        if not _is_int(latent_dim, 1, MAX_LATENT_DIM):
            raise InputError(f"a latent flow needs a latent dimension from 1 to {MAX_LATENT_DIM}, got {latent_dim!r}; "
                             "for larger latent spaces use the l2 latent prior")
        self.latent_dim = latent_dim
        self.architecture = (architecture or FlowArchitecture()).resolved(latent_dim)
        from genprior.resources import check_memory

        check_memory(17.0 * weight_count(latent_dim, self.architecture),  # float32 weight, grad, 2 Adam moments, mask
                     f"a latent flow on R^{latent_dim} with {self.architecture.transforms} transforms of hidden widths "
                     f"{list(self.architecture.hidden)}", "use fewer or narrower transforms (`hidden=`)")
        self.register_buffer("shift", torch.zeros(latent_dim))  # m
        self.register_buffer("log_scale", torch.zeros(latent_dim))  # log sigma
        self.flow = _build(latent_dim, self.architecture)
        self.record: dict[str, Any] = {}

    def log_prob(self, z: Tensor) -> Tensor:
        """``log p(z)`` per row of ``z`` ``[B, d]`` -> ``[B]``, differentiable in ``z``.

        The flow follows ``z`` to its device and floating dtype (a float64 solve gets float64
        densities).
        """
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise InputError(f"the latent flow is a density on R^{self.latent_dim}; got codes of shape "
                             f"{list(z.shape)}")
        if self.shift.dtype != z.dtype or self.shift.device != z.device:
            self.to(device=z.device, dtype=z.dtype)
        s = (z - self.shift) * torch.exp(-self.log_scale)
        return self.flow().log_prob(s) - self.log_scale.sum()

    def standardise_to(self, codes: Tensor) -> None:
        """Set ``m`` and ``sigma`` to the mean and standard deviation of ``codes`` per coordinate."""
        with torch.no_grad():
            self.shift.copy_(codes.mean(0))
            std = codes.std(0) if codes.shape[0] > 1 else torch.ones_like(self.shift)
            self.log_scale.copy_(torch.log(std.clamp_min(1e-6)))


def weight_count(latent_dim: int, arch: FlowArchitecture) -> int:
    """Weights of the flow's masked networks: layers ``d -> hidden layers -> d * k`` per transform, with ``k = 2``
    (affine: shift and log-scale) or ``3 bins - 1`` (spline widths, heights and inner derivatives)."""
    per_coordinate = 2 if arch.transform == "maf" else 3 * arch.bins - 1
    widths = [latent_dim, *arch.hidden, latent_dim * per_coordinate]
    return arch.transforms * sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))


def _build(latent_dim: int, arch: FlowArchitecture) -> nn.Module:
    import zuko

    if arch.transform == "nsf":
        return zuko.flows.NSF(latent_dim, transforms=arch.transforms, hidden_features=arch.hidden, bins=arch.bins)
    return zuko.flows.MAF(latent_dim, transforms=arch.transforms, hidden_features=arch.hidden)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """``log N(z; 0, I)`` per row: ``-||z||^2 / 2 - (d / 2) log(2 pi)``."""
    return -0.5 * z.pow(2).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)


def diagonal_gaussian_log_prob(z: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """``log N(z; m, diag(sigma^2))`` per row."""
    return standard_normal_log_prob((z - mean) / std) - torch.log(std).sum()


def encode_images(model: nn.Module, images: Tensor, batch_size: int = 500) -> Tensor:
    """The codes ``E(x)`` ``[N, d]`` of ``images`` ``[N, 1, H, W]`` (``model.encode``, in evaluation mode).

    Raises:
        InputError: the model has no encoder, the images do not fit it, or a code is not finite.
    """
    encode = getattr(model, "encode", None)
    if not callable(encode):
        raise InputError(f"a latent flow is fitted to the encoder's codes of the training images; the model "
                         f"{type(model).__name__} has no encode() (AE and VAE have one)")
    size = getattr(getattr(model, "config", None), "image_size", None)
    if images.dim() != 4 or images.shape[1] != 1 or (size is not None and tuple(images.shape[-2:]) != (size, size)):
        want = f"[N, 1, {size}, {size}]" if size is not None else "[N, 1, H, W]"
        raise InputError(f"the images must have shape {want} for this model, got {list(images.shape)}")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            dtype = next(model.parameters()).dtype if any(True for _ in model.parameters()) else images.dtype
            codes = torch.cat([encode(images[i:i + batch_size].to(dtype)) for i in range(0, images.shape[0],
                                                                                         batch_size)])
    finally:
        model.train(was_training)
    return check_finite(codes, "the encoder's codes")


def fit_latent_flow(model: nn.Module, images: Tensor, steps: int = 1000, seed: int = 0, *,
                    architecture: FlowArchitecture | None = None, log: Callable[[str], None] | None = None,
                    **settings: Any) -> LatentFlow:
    """Fit ``p(z)`` to the codes ``E(x_i)`` of the training ``images`` (see :func:`fit_flow_to_codes`)."""
    codes = encode_images(model, images)
    latent_dim = getattr(model, "latent_dim", codes.shape[1])
    if codes.shape[1] != latent_dim:
        raise InputError(f"the encoder gives codes of size {codes.shape[1]} but the model's latent_dim is {latent_dim}")
    return fit_flow_to_codes(codes, steps=steps, seed=seed, architecture=architecture, log=log, **settings)


def fit_flow_to_codes(codes: Tensor, steps: int = 1000, seed: int = 0, *,
                      architecture: FlowArchitecture | None = None, log: Callable[[str], None] | None = None,
                      **settings: Any) -> LatentFlow:
    """Fit a :class:`LatentFlow` to ``codes`` ``[N, d]`` by maximum likelihood.

    A random share ``held_out`` of the codes (at least one) is kept out; ``T`` is trained on
    the rest with Adam on ``-mean log p(z)`` of minibatches, the learning rate decaying to 0
    on a cosine.  Everything random (the split, the initial weights, the minibatches)
    follows ``seed``; the caller's global random state is left as it was.

    Args:
        codes: finite codes ``[N, d]``, ``N >= 2``.
        steps, seed, settings: the fields of :class:`FitSettings`.
        architecture: the flow's shape (default: :meth:`FlowArchitecture.resolved` for ``d``).
        log: called with a progress line ten times during the fit.

    Returns:
        The fitted flow (in evaluation mode, its weights frozen); its ``record`` holds the
        settings and the mean log-likelihoods of the train and held-out codes under the
        flow, under ``N(0, I)`` and under the diagonal Gaussian fitted to the train codes.
    """
    fit = FitSettings.create({"steps": steps, "seed": seed, **settings}, "fit_flow_to_codes")
    if codes.dim() != 2 or codes.shape[0] < 2:
        raise InputError(f"fitting a latent flow needs at least 2 codes [N, d], got shape {list(codes.shape)}")
    check_finite(codes, "the codes")
    codes = codes.detach().to(torch.float32).cpu()
    n, d = codes.shape
    n_out = min(max(1, round(fit.held_out * n)), n - 1)
    gen = torch.Generator().manual_seed(fit.seed)
    order = torch.randperm(n, generator=gen)
    train, held = codes[order[n_out:]], codes[order[:n_out]]
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(fit.seed)
        flow = LatentFlow(d, architecture)
    flow.standardise_to(train)
    flow.train()
    params = [p for p in flow.parameters()]
    opt = torch.optim.Adam(params, lr=fit.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=fit.steps)
    batch = min(fit.batch_size, train.shape[0])
    for step in range(1, fit.steps + 1):
        rows = torch.randint(train.shape[0], (batch,), generator=gen)
        loss = -flow.log_prob(train[rows]).mean()
        if not torch.isfinite(loss):
            raise InputError(f"the latent flow's fit diverged at step {step} (loss {loss.item()}); "
                             "use a smaller learning rate `lr=`")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log is not None and (step % max(1, fit.steps // 10) == 0 or step == fit.steps):
            log(f"flow step {step}/{fit.steps}: minibatch mean log p(z) {-loss.item():.3f}")
    flow.eval().requires_grad_(False)
    seconds = time.perf_counter() - start
    flow.record = {"fit": {**fit.values(), "n_train": int(train.shape[0]), "n_held_out": int(n_out),
                           "seconds": round(seconds, 2)},
                   "log_likelihood": log_likelihoods(flow, train, held)}
    return flow


def log_likelihoods(flow: LatentFlow, train: Tensor, held: Tensor) -> dict[str, dict[str, float]]:
    """Mean ``log p(z)`` of the train and held-out codes under the flow, ``N(0, I)`` and the
    diagonal Gaussian of the train codes' mean and standard deviation (nats per code)."""
    mean = train.mean(0)
    std = (train.std(0) if train.shape[0] > 1 else torch.ones_like(mean)).clamp_min(1e-6)
    out = {}
    with torch.no_grad():
        for name, z in (("train", train), ("held_out", held)):
            out[name] = {"flow": flow.log_prob(z).mean().item(),
                         "standard_normal": standard_normal_log_prob(z).mean().item(),
                         "diagonal_gaussian": diagonal_gaussian_log_prob(z, mean, std).mean().item()}
    return out


__all__ = ["FitSettings", "FlowArchitecture", "LatentFlow", "encode_images", "fit_flow_to_codes",
           "fit_latent_flow", "standard_normal_log_prob"]
