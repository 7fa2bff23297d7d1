"""Shared fixtures: seeded generators, a small fixed generator, a small tomography problem."""

from __future__ import annotations

import genprior  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch loads)
import numpy as np
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


def tomography64(rng: torch.Generator, sigma: float, bump: tuple[slice, slice, float] | None = None):
    """A float64 problem: 3 images ``G(z)`` of :class:`TinyGenerator`, ``z ~ N(0, I)`` from ``rng``,
    plus ``bump`` (rows, columns, height: a feature ``G`` cannot make) if given, measured by
    16x16 tomography with noise ``sigma``.  Returns ``(physics, generator, x, y)``."""
    from genprior.physics.tomography import Tomography

    physics = Tomography(16).double()
    g = TinyGenerator().double()
    with torch.no_grad():
        x = g(torch.randn(3, 3, generator=rng, dtype=torch.float64))
        if bump is not None:
            rows, cols, height = bump
            x[:, :, rows, cols] += height
        ax = physics.A(x)
        y = ax + sigma * torch.randn(ax.shape, generator=rng, dtype=torch.float64)
    return physics, g, x, y


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


@pytest.fixture(scope="session")
def fake_mnist(tmp_path_factory):
    """A small MNIST-shaped file (random strokes), so the test needs no download."""
    from genprior.data.io import save_dataset

    rng = np.random.default_rng(0)
    images = (rng.random((400, 1, 28, 28)) > 0.8).astype(np.float32)
    path = tmp_path_factory.mktemp("mnist") / "mnist.npz"
    save_dataset(path, images[:300], images[300:], meta={"dataset": "mnist"},
                 extras={"train_labels": rng.integers(0, 10, 300), "test_labels": rng.integers(0, 10, 100)})
    return path
