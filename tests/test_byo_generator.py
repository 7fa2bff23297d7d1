"""Bring your own generator: any ``nn.Module`` mapping ``[B, d] -> [B, 1, H, W]`` with an
integer ``latent_dim`` works with every method through the Python API."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genprior.methods import hard, relaxed
from genprior.methods.projection import project_to_range
from genprior.metrics import psnr


class MyGenerator(nn.Module):
    """A user's own generator: a small MLP, nothing from genprior."""

    def __init__(self, latent_dim: int = 4, n: int = 16) -> None:
        super().__init__()
        self.latent_dim = latent_dim  # the one attribute genprior needs
        self.n = n
        self.net = nn.Sequential(nn.Linear(latent_dim, 64), nn.Tanh(), nn.Linear(64, n * n), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).reshape(-1, 1, self.n, self.n)


class MyAutoencoder(MyGenerator):
    """With ``encode`` the encoder initialisation becomes available too."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.shape[0], self.latent_dim)


@pytest.fixture
def generator() -> MyGenerator:
    torch.manual_seed(0)
    return MyGenerator()


def test_projection_onto_the_range_of_a_user_generator(generator):
    z_true = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    x = generator(z_true).detach()
    result = project_to_range(generator, x, init="random", restarts=4, max_iter=300)
    nrmse = (result.x - x).flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)
    assert (nrmse < 0.02).all()
    assert all(p.requires_grad for p in generator.parameters())  # left as it was found


def test_hard_and_relaxed_with_a_user_generator(generator, tomo16):
    x = generator(torch.randn(2, 4, generator=torch.Generator().manual_seed(2))).detach()
    y = tomo16.A(x)
    result = hard(tomo16, y, generator=generator, lam=1e-4, max_iter=150, seed=3)
    assert result.x.shape == (2, 1, 16, 16) and result.z.shape == (2, 4)
    start = generator(torch.randn(2, 4, generator=torch.Generator().manual_seed(3)))
    assert (result.x - x).norm() < 0.5 * (start - x).norm()


@pytest.mark.parametrize("coordinates", ["x", "u"])
def test_relaxed_with_a_user_generator_converges_and_reconstructs(coordinates, generator, tomo16):
    x = generator(torch.randn(2, 4, generator=torch.Generator().manual_seed(2))).detach()
    y = tomo16.A(x)
    result = relaxed(tomo16, y, generator=generator, lam=0.4, mu=0.01, max_iter=300, seed=3, coordinates=coordinates)
    assert result.x.shape == (2, 1, 16, 16) and result.z.shape == (2, 4)
    assert result.converged.all() and result.ended == ["converged", "converged"]
    assert (result.iterations < 300).all()
    for b in range(2):  # the objective falls from the start, never rises, and ends far below it
        hist = result.objective[:, b]
        hist = hist[~torch.isnan(hist)]
        assert torch.all(hist[1:] <= hist[:-1] * (1 + 1e-6) + 1e-9)
        assert hist[-1] < 1e-3 * hist[0]
    # the images: far better than the generator's start G(z0) and than the back-projection A^T y
    start = generator(torch.randn(2, 4, generator=torch.Generator().manual_seed(3))).detach()
    gained = psnr(result.x, x) - torch.maximum(psnr(start, x), psnr(tomo16.A_adjoint(y), x))
    assert (gained > 8.0).all(), gained
    assert (psnr(result.x, x) > 35.0).all()


def test_encoder_initialisation_needs_encode(generator, tomo16):
    y = tomo16.A(torch.rand(1, 1, 16, 16))
    with pytest.raises(ValueError, match="needs a model with an encoder"):
        hard(tomo16, y, generator=generator, init="encoder", max_iter=2)
    torch.manual_seed(0)
    model = MyAutoencoder()
    result = hard(tomo16, y, generator=model, init="encoder", max_iter=2)
    assert result.x.shape == (1, 1, 16, 16)
    with torch.no_grad():  # the encoder's code is z = 0, so the start's objective is ||A G(0) - y||^2
        at_zero = (tomo16.A(model(torch.zeros(1, 4))) - y).pow(2).sum()
    assert torch.allclose(result.objective[0], at_zero.double(), rtol=1e-5)


def test_a_module_without_latent_dim_is_refused(tomo16):
    y = tomo16.A(torch.rand(1, 1, 16, 16))
    with pytest.raises(TypeError, match="no integer attribute 'latent_dim'"):
        hard(tomo16, y, generator=nn.Linear(4, 256), max_iter=2)
