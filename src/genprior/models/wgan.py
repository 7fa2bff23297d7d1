"""Wasserstein GAN with gradient penalty (Gulrajani et al. 2017), the paper's GAN.

The critic ``D`` (the paper's encoder architecture with one output) and the generator
``G`` (the shared decoder) minimise in turn

    critic:     E[D(G(z))] - E[D(x)] + lambda E[(||grad D(x_hat)|| - 1)^2],
    generator:  -E[D(G(z))],

with ``x_hat = a x + (1 - a) G(z)``, ``a ~ U(0, 1)`` per image, ``lambda = 10``.  One
training *step* is one generator update preceded by ``critic_steps`` (5) critic
updates, each on a fresh batch of real images and fresh noise; the generator update
uses noise only.  Recipe: Adam 1e-4 with betas (0, 0.9), batch 50.

``critic(x)`` returns scores ``[B]`` (higher = more real); ``-critic(G(z))`` can serve as
a latent prior.  A GAN has no encoder: reconstructions start from random codes.

With ``generator_ema = beta > 0`` the model also keeps an exponential moving average of
the generator's weights (Yazici et al. 2019, "The unusual effectiveness of averaging in
GAN training"): after generator update ``t``, ``w_avg <- b_t w_avg + (1 - b_t) w`` with
``b_t = min(beta, (1 + t) / (10 + t))`` (a short warm-up, so early weights fade fast;
:mod:`genprior.models.averaging`).
The average is the generator ``G`` in evaluation mode, i.e. every use after training
(samples, reconstructions, evaluation); training mode uses the weights being trained.
The average is part of the state dict, so checkpoints and resumed runs keep it.

``generator_output = "sigmoid"`` ends the generator with a sigmoid, so samples lie in
``(0, 1)`` like the data (the paper's generator, shared with the AE/VAE, has a linear
output); on MNIST it gave cleaner backgrounds and more confidently classified samples
(benchmarks/RESULTS.md, "bench_training_gan").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.models.architectures import build_encoder
from genprior.models.averaging import average_copy, update_average
from genprior.models.base import GenerativeModel, Phase
from genprior.models.config import ModelConfig
from genprior.models.kinds import ModelSettings
from genprior.models.recipes import Recipe, gan_recipe
from genprior.params import param


@dataclass(frozen=True)
class GANSettings(ModelSettings):
    """The WGAN-GP's own settings (``critic_width``, ``generator_ema`` and ``generator_output`` came
    after the first checkpoints)."""

    gp_weight: float = param(10.0, "gradient-penalty weight lambda", above=0)
    critic_steps: int = param(5, "critic updates per generator update", minimum=1)
    critic_width: int | None = param(None, "compact preset: the critic's channels at full resolution, the "
                                     "generator's width if not given", minimum=1)
    generator_ema: float = param(0.0, "decay beta of the moving average of the generator's weights, the "
                                 "generator after training (0: no average)", minimum=0, below=1)
    generator_output: str = param("linear", "the generator's last activation: linear (as the paper's) or sigmoid "
                                  "(images in (0, 1))", choices=("linear", "sigmoid"))

    compact_only = ("critic_width",)
    omitted_at_default = ("critic_width", "generator_ema", "generator_output")

    def complete(self, preset: str, width: int | None) -> GANSettings:
        """The compact critic's width defaults to the generator's."""
        if preset == "compact" and self.critic_width is None:
            return dataclasses.replace(self, critic_width=width)
        return self


class WGAN(GenerativeModel):
    """WGAN-GP whose generator is the shared decoder: ``[B, d] -> [B, 1, n, n]``."""

    Settings = GANSettings

    default_betas = (0.0, 0.9)
    #: Training keeps the default layout: with channels-last weights the compact GAN's step (critic updates
    #: with the gradient penalty's double backward) was no faster here (benchmarks/RESULTS.md, bench_training_layout).
    train_channels_last = False
    find_unused_parameters = True  # critic updates leave the generator without gradients

    @classmethod
    def recipe(cls, dataset: str | None, preset: str) -> Recipe:
        """The WGAN-GP's recipe (:func:`~genprior.models.recipes.gan_recipe`)."""
        return gan_recipe(dataset, preset)

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.critic_net = build_encoder(config.preset, config.image_size, 1, config.critic_width)
        if config.generator_output == "sigmoid":
            self.decoder.append(nn.Sigmoid())  # no parameters: the state dict keeps its keys
        if config.generator_ema:
            self.generator_average = average_copy(self.decoder)
            self.register_buffer("average_updates", torch.zeros((), dtype=torch.long))

    def forward(self, z: Tensor) -> Tensor:
        """``G(z)``: the averaged generator in evaluation mode (if kept), else the trained one."""
        if self.config.generator_ema and not self.training:
            return self.generator_average(z)
        return self.decoder(z)

    def after_update(self, phase: str) -> None:
        """After a generator update: fold the new weights into the average (if kept)."""
        if phase == "generator" and self.config.generator_ema:
            update_average(self.generator_average, self.decoder, self.average_updates, self.config.generator_ema)

    def critic(self, x: Tensor) -> Tensor:
        """Critic scores ``D(x)`` ``[B]`` for images ``[B, 1, n, n]`` (higher = more real)."""
        return self.critic_net(x).squeeze(1)

    def phases(self) -> tuple[Phase, ...]:
        return (Phase("critic", self.config.critic_steps), Phase("generator", 1, uses_data=False))

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"critic": list(self.critic_net.parameters()), "generator": list(self.decoder.parameters())}

    def _noise(self, size: int, like: Tensor) -> Tensor:
        return torch.randn(size, self.latent_dim, device=like.device, dtype=like.dtype)

    def critic_loss(self, real: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The critic's loss on a batch of real images, with the gradient penalty."""
        b = real.shape[0]
        with torch.no_grad():
            fake = self.decoder(self._noise(b, real)).to(real.dtype)
        a = torch.rand(b, 1, 1, 1, device=real.device, dtype=real.dtype)
        x_hat = (a * real + (1 - a) * fake).requires_grad_(True)
        scores = self.critic(torch.cat([real, fake, x_hat]))  # one pass: [3b]
        s_real, s_fake, s_hat = scores.float().split(b)
        # d D(x_hat) / d x_hat per image, kept in the graph so the penalty trains the critic
        (grad,) = torch.autograd.grad(s_hat.sum(), x_hat, create_graph=True)
        gp = (grad.float().flatten(1).norm(dim=1) - 1).pow(2).mean()
        wasserstein = s_real.mean() - s_fake.mean()
        loss = -wasserstein + self.config.gp_weight * gp
        return loss, {"critic": loss.detach(), "wasserstein": wasserstein.detach(), "gp": gp.detach()}

    def generator_loss(self, size: int) -> tuple[Tensor, dict[str, Tensor]]:
        """``-E[D(G(z))]`` over ``size`` fresh codes."""
        p = next(self.decoder.parameters())
        loss = -self.critic(self.decoder(self._noise(size, p))).float().mean()
        return loss, {"generator": loss.detach()}

    def objective(self, phase: str, batch: Tensor | None, size: int) -> tuple[Tensor, dict[str, Tensor]]:
        if phase == "critic":
            return self.critic_loss(batch)
        if phase == "generator":
            return self.generator_loss(size)
        raise InputError(f"unknown GAN training phase {phase!r}; the phases are critic and generator")
