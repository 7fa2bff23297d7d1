"""Generators: the trainable models every reconstruction method regularises with.

Generator contract: the module itself is the generator, ``model(z)`` maps
``[B, d] -> [B, 1, n, n]``; it has ``latent_dim`` and ``image_shape``.  AE and VAE add
``encode(x) -> [B, d]``; the GAN adds ``critic(x) -> [B]``.  How they train is the
protocol of :class:`~genprior.models.trainable.TrainableModel` (phases, objective,
optimisers), which :class:`GenerativeModel` inherits; its progress grid shows samples
``G(z)`` for fixed codes ``z ~ N(0, I)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genprior.models.architectures import build_decoder
from genprior.models.config import Architecture as GeneratorArchitecture
from genprior.models.config import ModelConfig
from genprior.models.recipes import Recipe, autoencoder_recipe
from genprior.models.trainable import Phase, Preview, TrainableModel

N_PREVIEW = 32  # samples in a generator's progress grid


class GenerativeModel(TrainableModel):
    """Base class of the generators: a decoder ``G: [B, d] -> [B, 1, n, n]`` plus a training objective."""

    Architecture = GeneratorArchitecture  # the presets compact and paper, and latent_dim

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.latent_dim = config.latent_dim
        self.decoder = build_decoder(config.preset, config.latent_dim, config.image_size, config.width)

    @classmethod
    def recipe(cls, dataset: str | None, preset: str) -> Recipe:
        """The training defaults of this kind on ``dataset`` (``"mnist"``, ``"shapes"``, ``"knee"``;
        ``None``: Shapes' settings) for ``preset``: here the autoencoder's
        (:func:`~genprior.models.recipes.autoencoder_recipe`); a kind overrides or extends it."""
        return autoencoder_recipe(dataset, preset)

    def forward(self, z: Tensor) -> Tensor:
        """The generator ``G(z)``: ``[B, d] -> [B, 1, n, n]``."""
        return self.decoder(z)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``G(z)`` for ``n`` codes ``z ~ N(0, I)`` ``[n, 1, H, W]`` (drawn on the CPU from ``generator``)."""
        p = next(self.parameters())
        z = torch.randn(n, self.latent_dim, generator=generator).to(p.device, p.dtype)
        return self(z)

    def preview(self, images: Tensor, generator: torch.Generator) -> Preview:
        """Samples ``G(z)`` for :data:`N_PREVIEW` codes ``z ~ N(0, I)`` from ``generator`` (``images`` unused)."""
        return Preview(self.sample(N_PREVIEW, generator).float().cpu(), 8, "samples G(z), z ~ N(0, I)")


__all__ = ["GenerativeModel", "Phase", "Preview", "TrainableModel"]
