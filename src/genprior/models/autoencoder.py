"""Autoencoder, the paper's equation (5): ``min ||x - G(E(x))||^2`` over a data set.

The decoder is the generator, ``forward(z) = G(z)``; ``encode(x) = E(x)`` gives the code
used to initialise reconstructions.  There is no prior on the latent space.
"""

from __future__ import annotations

from torch import Tensor

from genprior.models.architectures import build_encoder
from genprior.models.base import GenerativeModel
from genprior.models.config import ModelConfig


class Autoencoder(GenerativeModel):
    """AE whose decoder is the generator: ``[B, d] -> [B, 1, n, n]``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.encoder = build_encoder(config.preset, config.image_size, config.latent_dim, config.width)

    def encode(self, x: Tensor) -> Tensor:
        """The code ``E(x)`` ``[B, d]``."""
        return self.encoder(x)

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """``||x - G(E(x))||^2`` per image, averaged over the batch."""
        recon = (self.decoder(self.encoder(x)) - x).pow(2).flatten(1).sum(1).mean()
        return recon, {"loss": recon.detach()}

    def objective(self, phase: str, batch: Tensor | None, size: int) -> tuple[Tensor, dict[str, Tensor]]:
        return self.loss(batch)
