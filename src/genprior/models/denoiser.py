"""A noise-conditional denoiser ``D(x, sigma)`` trained on the user's images (the ``denoiser`` kind).

Preconditioning of Karras et al. 2022 (EDM), with ``s = sigma_data`` (the root mean
square of the data's pixels) and ``F`` the UNet of :mod:`genprior.models.unet`::

    D(x, sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x, c_noise(sigma)),
    c_skip = s^2 / (sigma^2 + s^2),   c_out = sigma s / sqrt(sigma^2 + s^2),
    c_in = 1 / sqrt(sigma^2 + s^2),   c_noise = ln(sigma) / 4,

so ``D -> x`` as ``sigma -> 0`` and ``F``'s input and target have about unit variance at
every level.  Training minimises, over clean images ``y``, ``n ~ N(0, sigma^2 I)`` and
``ln sigma`` uniform on ``[ln sigma_min, ln sigma_max]`` (the *trained range*, stored
with the model),

    lambda(sigma) ||D(y + n, sigma) - y||^2 / P,    lambda(sigma) = (sigma^2 + s^2) / (sigma s)^2,

(``P`` pixels), which equals ``||F - F_target||^2 / P`` with ``c_out^2 lambda = 1``.  An
exponential moving average of the UNet's weights (``ema``; :mod:`genprior.models.averaging`)
is the network in evaluation mode, i.e. every use after training.

``D`` is the minimum-mean-squared-error estimate of ``y`` from ``y + n`` (Tweedie: the
score of the noisy density is ``(D(x, sigma) - x) / sigma^2``), which is what
plug-and-play, RED and diffusion samplers use.  A level outside the trained range, or
an image of another size, is an :class:`~genprior.errors.InputError`
(:mod:`genprior.models.noise_level`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from genprior.errors import InputError
from genprior.models.averaging import average_copy, update_average
from genprior.models.config import ModelConfig
from genprior.models.kinds import ModelSettings
from genprior.models.noise_level import check_images, noise_levels
from genprior.models.recipes import Recipe
from genprior.models.trainable import Preview, TrainableModel
from genprior.models.unet import UNet
from genprior.params import param

PREVIEW_IMAGES = 4
PREVIEW_SIGMAS = (0.05, 0.1, 0.2, 0.4)


@dataclass(frozen=True)
class DenoiserSettings(ModelSettings):
    """The denoiser's own settings: the trained range of noise levels, the preconditioning and the UNet."""

    sigma_min: float = param(0.005, "smallest noise level trained on (and accepted)", above=0)
    sigma_max: float = param(2.5, "largest noise level trained on (and accepted)", above=0)
    sigma_data: float = param(0.25, "root mean square of the data's pixels, EDM's sigma_data", above=0)
    levels: int = param(3, "UNet resolutions (each a halving; channels double up to 4 x width)", minimum=1,
                        maximum=6)
    blocks: int = param(1, "UNet residual blocks per resolution on each path", minimum=1, maximum=4)
    ema: float = param(0.999, "decay of the moving average of the weights, the network after training "
                       "(0: no average)", minimum=0, below=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sigma_min >= self.sigma_max:
            raise InputError(f"sigma_min {self.sigma_min:g} must be below sigma_max {self.sigma_max:g}")


def unet_channels(width: int, levels: int) -> tuple[int, ...]:
    """Channels per level: ``width``, doubling at each halving up to ``4 width``."""
    return tuple(width * min(2**i, 4) for i in range(levels))


def preconditioning(sigma: Tensor, sigma_data: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """EDM's ``(c_skip, c_out, c_in, c_noise)`` for noise levels ``sigma`` ``[B]`` (each ``[B]``)."""
    total = sigma**2 + sigma_data**2
    return sigma_data**2 / total, sigma * sigma_data / total.sqrt(), 1 / total.sqrt(), sigma.log() / 4


def loss_weight(sigma: Tensor, sigma_data: float) -> Tensor:
    """EDM's ``lambda(sigma) = (sigma^2 + s^2) / (sigma s)^2`` (``= 1 / c_out^2``)."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


class Denoiser(TrainableModel):
    """``D(x, sigma)``: ``[B, 1, n, n]`` and a noise level (a number or ``[B]``) -> ``[B, 1, n, n]``."""

    Settings = DenoiserSettings
    #: Training keeps the default layout: with channels-last weights the UNet's training step was no faster
    #: (0.8-1.0x; benchmarks/RESULTS.md, bench_training_layout; :func:`genprior.training.loop.train`).
    train_channels_last = False

    @classmethod
    def recipe(cls, dataset: str | None, preset: str) -> Recipe:
        """The compact denoiser recipe (:func:`~genprior.models.denoiser_recipe.denoiser_recipe`)."""
        from genprior.models.denoiser_recipe import denoiser_recipe

        return denoiser_recipe(dataset, preset)

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.net = UNet(unet_channels(config.width, config.levels), config.blocks)
        if config.ema:
            self.net_average = average_copy(self.net)
            self.register_buffer("average_updates", torch.zeros((), dtype=torch.long))

    @property
    def sigma_min(self) -> float:
        return self.config.sigma_min

    @property
    def sigma_max(self) -> float:
        return self.config.sigma_max

    def network(self) -> torch.nn.Module:
        """``F``: the weight average in evaluation mode (if kept), else the trained weights."""
        return self.net_average if self.config.ema and not self.training else self.net

    def denoise(self, x: Tensor, sigma: Tensor) -> Tensor:
        """``D(x, sigma)`` for checked inputs: ``x`` ``[B, 1, n, n]`` and ``sigma`` ``[B]`` in the model's dtype."""
        c_skip, c_out, c_in, c_noise = preconditioning(sigma, self.config.sigma_data)
        view = (-1, 1, 1, 1)
        return c_skip.view(view) * x + c_out.view(view) * self.network()(c_in.view(view) * x, c_noise)

    def forward(self, x: Tensor, sigma: float | Tensor) -> Tensor:
        """The denoised images ``D(x, sigma)`` ``[B, 1, n, n]``, in ``x``'s dtype (differentiable in ``x``).

        Raises:
            InputError: images of another size, or a noise level outside ``[sigma_min, sigma_max]``.
        """
        check_images(x, self.image_shape, "the denoiser")
        p = next(self.net.parameters())
        s = noise_levels(sigma, x.shape[0], p, self.sigma_min, self.sigma_max, "the denoiser", "trained range")
        return self.denoise(x.to(p.dtype), s).to(x.dtype)

    def after_update(self, phase: str) -> None:
        """Fold the new weights into the average (if kept)."""
        if self.config.ema:
            update_average(self.net_average, self.net, self.average_updates, self.config.ema)

    def draw_sigma(self, size: int, like: Tensor) -> Tensor:
        """``size`` levels with ``ln sigma ~ U[ln sigma_min, ln sigma_max]`` ``[size]`` (global torch RNG)."""
        lo, hi = math.log(self.sigma_min), math.log(self.sigma_max)
        return (lo + (hi - lo) * torch.rand(size, device=like.device, dtype=torch.float32)).exp().to(like.dtype)

    def loss(self, y: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """EDM's weighted loss on clean images ``y`` (module docstring), and the unweighted MSE."""
        sigma = self.draw_sigma(y.shape[0], y)
        x = y + sigma.view(-1, 1, 1, 1) * torch.randn_like(y)
        sq = (self.denoise(x, sigma).float() - y.float()).pow(2).flatten(1).mean(1)  # [B]
        loss = (loss_weight(sigma.float(), self.config.sigma_data) * sq).mean()
        return loss, {"loss": loss.detach(), "mse": sq.mean().detach()}

    def objective(self, phase: str, batch: Tensor | None, size: int) -> tuple[Tensor, dict[str, Tensor]]:
        return self.loss(batch)

    def preview_sigmas(self) -> tuple[float, ...]:
        """The levels of the progress grid: :data:`PREVIEW_SIGMAS` within the trained range (or its ends)."""
        inside = tuple(s for s in PREVIEW_SIGMAS if self.sigma_min <= s <= self.sigma_max)
        return inside or (self.sigma_min, self.sigma_max)

    def preview(self, images: Tensor, generator: torch.Generator) -> Preview:
        """For the first training images: the clean image, then noisy and denoised at each preview level."""
        y = images[:PREVIEW_IMAGES]
        sigmas = self.preview_sigmas()
        columns = [y]
        for s in sigmas:
            noisy = y + s * torch.randn(y.shape, generator=generator).to(y.device, y.dtype)
            columns += [noisy, self(noisy, s)]
        grid = torch.stack(columns, dim=1).flatten(0, 1)  # [k (1 + 2 m), 1, n, n], one image per row
        return Preview(grid.float().cpu(), len(columns),
                       "clean | noisy, denoised at sigma " + ", ".join(f"{s:g}" for s in sigmas))
