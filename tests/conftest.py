"""Shared fixtures: seeded generators, a small fixed generator, a small tomography problem."""

from __future__ import annotations

import genprior  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch loads)
import pytest
import torch
from torch import nn


class TinyGenerator(nn.Module):
    """A fixed smooth generator ``G(z) = sigmoid(W z + b)`` reshaped to ``[B, 1, n, n]``."""

    def __init__(self, latent_dim: int = 3, n: int = 16, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.latent_dim = latent_dim
        self.n = n
        self.weight = nn.Parameter(torch.randn(n * n, latent_dim, generator=g))
        self.bias = nn.Parameter(0.1 * torch.randn(n * n, generator=g))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(z @ self.weight.T + self.bias).reshape(-1, 1, self.n, self.n)


class TinyAutoencoder(TinyGenerator):
    """TinyGenerator with an (approximate) encoder, for encoder initialisation."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.logit(x.reshape(x.shape[0], -1).clamp(1e-4, 1 - 1e-4)) - self.bias
        return torch.linalg.lstsq(self.weight, logits.T).solution.T


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def tiny_generator() -> TinyGenerator:
    return TinyGenerator()


@pytest.fixture
def tiny_autoencoder() -> TinyAutoencoder:
    return TinyAutoencoder()


@pytest.fixture(scope="session")
def tomo16():
    from genprior.physics.tomography import Tomography

    return Tomography(16)
