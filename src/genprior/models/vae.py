"""Variational autoencoder (Kingma and Welling), the paper's equation (6).

Training minimises, per image and averaged over a batch,

    ||x - G(z)||^2 + beta * KL(N(mu(x), diag sigma^2(x)) || N(0, I)),   z = mu + sigma * e,

i.e. equation (6) with ``beta = 2 rho^2`` (the authors' "KL weight": 0.01 on Shapes,
0.05 on MNIST).  As a generator the module maps codes to images, ``forward(z) = G(z)``,
and ``encode(x) = mu(x)`` gives the mean code used to initialise reconstructions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genprior.models.architectures import PRESETS, build_decoder, build_encoder
from genprior.validation import check_choice, check_positive


@dataclass
class ModelConfig:
    """Architecture of a generative model (what ``config.json`` stores to rebuild it)."""

    kind: str = "vae"
    preset: str = "compact"
    latent_dim: int = 10
    image_size: int = 56
    kl_weight: float = 0.01

    def __post_init__(self) -> None:
        check_choice(self.preset, PRESETS, "preset")
        if not isinstance(self.latent_dim, int) or self.latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {self.latent_dim!r}")
        if not isinstance(self.image_size, int) or self.image_size < 8:
            raise ValueError(f"image_size must be an integer >= 8, got {self.image_size!r}")
        check_positive(self.kl_weight, "kl_weight")


class VAE(nn.Module):
    """VAE whose decoder is the generator: ``[B, d] -> [B, 1, n, n]``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.latent_dim = config.latent_dim
        self.image_shape = (1, config.image_size, config.image_size)
        self.encoder = build_encoder(config.preset, config.image_size, 2 * config.latent_dim)
        self.decoder = build_decoder(config.preset, config.latent_dim, config.image_size)

    def forward(self, z: Tensor) -> Tensor:
        """The generator ``G(z)``: ``[B, d] -> [B, 1, n, n]``."""
        return self.decoder(z)

    def encode_distribution(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu(x), log sigma^2(x))``, each ``[B, d]``."""
        h = self.encoder(x)
        return h[:, : self.latent_dim], h[:, self.latent_dim :].clamp(-30.0, 20.0)

    def encode(self, x: Tensor) -> Tensor:
        """The mean code ``mu(x)`` ``[B, d]``."""
        return self.encode_distribution(x)[0]

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Negative ELBO (up to constants) averaged over the batch, and its parts."""
        mu, logvar = self.encode_distribution(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = (self.decoder(z) - x).pow(2).flatten(1).sum(1).mean()
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1).mean()
        total = recon + self.config.kl_weight * kl
        logs = {"loss": float(total.detach()), "recon": float(recon.detach()), "kl": float(kl.detach())}
        return total, logs
