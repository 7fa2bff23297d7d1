"""Variational autoencoder (Kingma and Welling), the paper's equation (6).

Training minimises, per image and averaged over a batch,

    ||x - G(z)||^2 + beta * KL(N(mu(x), diag sigma^2(x)) || N(0, I)),   z = mu + sigma * e,

i.e. equation (6) with ``beta = 2 rho^2`` (the authors' "KL weight": 0.01 on Shapes,
0.05 on MNIST, 0.001 for the knee).  As a generator the module maps codes to images,
``forward(z) = G(z)``, and ``encode(x) = mu(x)`` gives the mean code used to initialise
reconstructions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genprior.models.architectures import build_encoder
from genprior.models.base import GenerativeModel
from genprior.models.config import ModelConfig
from genprior.models.kinds import ModelSettings
from genprior.models.recipes import Recipe, autoencoder_recipe
from genprior.params import param

__all__ = ["VAE", "ModelConfig", "VAESettings"]


@dataclass(frozen=True)
class VAESettings(ModelSettings):
    """The VAE's own setting."""

    kl_weight: float = param(0.01, "beta in ||x - G(z)||^2 + beta KL", above=0)


class VAE(GenerativeModel):
    """VAE whose decoder is the generator: ``[B, d] -> [B, 1, n, n]``."""

    Settings = VAESettings

    #: the authors' KL weight per data set (REFERENCE.md)
    PAPER_KL_WEIGHT = {"mnist": 0.05, "shapes": 0.01, "knee": 0.001}

    @classmethod
    def recipe(cls, dataset: str | None, preset: str) -> Recipe:
        """The autoencoder's recipe with the authors' KL weight of ``dataset``."""
        return autoencoder_recipe(dataset, preset, kl_weight=cls.PAPER_KL_WEIGHT)

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.encoder = build_encoder(config.preset, config.image_size, 2 * config.latent_dim, config.width)

    def encode_distribution(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu(x), log sigma^2(x))``, each ``[B, d]``."""
        h = self.encoder(x)
        return h[:, : self.latent_dim], h[:, self.latent_dim :].clamp(-30.0, 20.0)

    def encode(self, x: Tensor) -> Tensor:
        """The mean code ``mu(x)`` ``[B, d]``."""
        return self.encode_distribution(x)[0]

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Negative ELBO (up to constants) averaged over the batch, and its parts."""
        mu, logvar = self.encode_distribution(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = (self.decoder(z) - x).pow(2).flatten(1).sum(1).mean()
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1).mean()
        total = recon + self.config.kl_weight * kl
        return total, {"loss": total.detach(), "recon": recon.detach(), "kl": kl.detach()}

    def objective(self, phase: str, batch: Tensor | None, size: int) -> tuple[Tensor, dict[str, Tensor]]:
        return self.loss(batch)
