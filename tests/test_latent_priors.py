"""Latent priors R_Z: l2, box, sphere, WGAN critic, TV(G(z)) with every generative method."""

from __future__ import annotations

import pytest
import torch
from tests.conftest import TinyGenerator
from torch import nn

from genprior.methods import get_method
from genprior.methods.latent_priors import LATENT_PRIORS, make_latent_prior

GENERATIVE = {"hard": {"lam": 0.01}, "relaxed": {"lam": 0.4, "mu": 0.1}, "sparse": {"lam": 0.05, "mu": 0.1},
              "pgd": {}}


class TinyGAN(TinyGenerator):
    """TinyGenerator with a (fixed, smooth) critic: higher for images with more mean intensity."""

    def __init__(self) -> None:
        super().__init__()
        self.score = nn.Linear(16 * 16, 1)
        with torch.no_grad():
            self.score.weight.fill_(0.05)
            self.score.bias.zero_()

    def critic(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(x.reshape(x.shape[0], -1)).squeeze(1)


@pytest.fixture
def problem(tomo16, tiny_generator, rng):
    with torch.no_grad():
        x = tiny_generator(1.5 * torch.randn(3, 3, generator=rng))
        y = tomo16.A(x) + 0.05 * torch.randn(tomo16.A(x).shape, generator=rng)
    return tomo16, y


@pytest.mark.parametrize("method", list(GENERATIVE))
def test_box_prior_keeps_codes_in_the_box(method, problem, tiny_generator):
    physics, y = problem
    r = get_method(method).function(physics, y, tiny_generator, latent_prior="box", max_iter=30, **GENERATIVE[method])
    assert r.z.abs().max() <= 1.0
    if method != "relaxed":  # (relaxed starts x at random pixels, so z need not go far)
        assert (r.z.abs() == 1.0).any()  # the constraint is active for these far-away codes
    assert torch.all(r.final_objective < r.objective[0])
    assert r.params["latent_prior"] == "box"


@pytest.mark.parametrize("method", ["hard", "sparse"])
def test_sphere_prior_keeps_codes_on_the_sphere(method, problem, tiny_generator):
    physics, y = problem
    r = get_method(method).function(physics, y, tiny_generator, latent_prior="sphere", max_iter=30,
                                    **GENERATIVE[method])
    assert torch.allclose(r.z.norm(dim=1), torch.full((3,), 3**0.5), atol=1e-5)
    assert torch.all(r.final_objective < r.objective[0])


@pytest.mark.parametrize("prior", ["critic", "tv", "l2"])
def test_smooth_priors_decrease_the_objective(prior, problem):
    physics, y = problem
    gan = TinyGAN()
    for method in ("hard", "relaxed"):
        r = get_method(method).function(physics, y, gan, latent_prior=prior, max_iter=30, **GENERATIVE[method])
        hist = r.objective
        for i in range(3):
            col = hist[: int(r.iterations[i]) + 1, i]
            assert col[-1] < col[0]
            assert torch.all(col[1:] <= col[:-1] + 1e-5 * col[:-1].abs())


def test_critic_prior_pulls_towards_higher_scores(problem):
    physics, y = problem
    gan = TinyGAN()
    z0 = torch.zeros(3, 3)
    plain = get_method("hard").function(physics, y, gan, lam=0.0, init=z0, max_iter=40)
    critic = get_method("hard").function(physics, y, gan, lam=5.0, latent_prior="critic", init=z0, max_iter=40)
    assert gan.critic(critic.x).mean() > gan.critic(plain.x).mean()


def test_prior_values():
    z = torch.tensor([[3.0, -0.5, 0.0], [0.0, 0.0, 0.0]])
    assert torch.equal(make_latent_prior("box").project(z)[0], torch.tensor([1.0, -0.5, 0.0]))
    sphere = make_latent_prior("sphere").project(z)
    assert torch.allclose(sphere.norm(dim=1), torch.full((2,), 3**0.5))
    assert torch.allclose(make_latent_prior("l2").value(z), torch.tensor([9.25, 0.0]))
    assert torch.equal(make_latent_prior("box").value(z), torch.zeros(2))
    flat = torch.ones(2, 1, 4, 4)
    assert torch.allclose(make_latent_prior("tv").value(z, flat), torch.full((2,), 16 * 1e-2))
    assert set(LATENT_PRIORS) == {"l2", "box", "sphere", "critic", "tv", "flow"}


def test_critic_prior_needs_a_critic(problem, tiny_generator):
    physics, y = problem
    with pytest.raises(ValueError, match="latent prior 'critic' uses the GAN critic.*TinyGenerator has no critic"):
        get_method("hard").function(physics, y, tiny_generator, latent_prior="critic")
    with pytest.raises(ValueError, match="unknown latent prior 'cube'"):
        get_method("relaxed").function(physics, y, tiny_generator, latent_prior="cube")
