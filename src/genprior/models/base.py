"""What every trainable generative model shares: the generator contract and the
training protocol that :func:`genprior.training.loop.train` drives.

Generator contract (used by every reconstruction method): the module itself is the
generator, ``model(z)`` maps ``[B, d] -> [B, 1, n, n]``; it has ``latent_dim`` and
``image_shape``.  AE and VAE add ``encode(x) -> [B, d]``; the GAN adds ``critic(x) -> [B]``.

Training protocol: a training *step* is a sequence of :class:`Phase` updates
(:meth:`GenerativeModel.phases`).  Each phase update computes
:meth:`GenerativeModel.objective` on a fresh batch of real images (or on noise only,
``uses_data=False``) and takes one Adam step of the optimiser of the same name, built
by :meth:`GenerativeModel.configure_optimisers` from :meth:`parameter_groups`.  AE and
VAE have one phase, ``"model"``; the WGAN-GP has ``critic_steps`` x ``"critic"`` then
one ``"generator"`` update.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.models.architectures import build_decoder
from genprior.models.config import ModelConfig
from genprior.models.kinds import ModelSettings
from genprior.models.recipes import Recipe, autoencoder_recipe


@dataclass(frozen=True)
class Phase:
    """One kind of update in a training step.

    Attributes:
        name: the optimiser it steps (a key of :meth:`GenerativeModel.parameter_groups`).
        repeats: updates of this phase per training step.
        uses_data: each update draws a fresh batch of training images.
    """

    name: str
    repeats: int = 1
    uses_data: bool = True


class GenerativeModel(nn.Module):
    """Base class: a decoder ``G: [B, d] -> [B, 1, n, n]`` plus a training objective."""

    #: The kind's own settings (:mod:`genprior.models.kinds`); ``config.NAME`` reads them.
    Settings: type[ModelSettings] = ModelSettings
    #: Adam betas of the model's recipe (the WGAN-GP uses (0, 0.9)).
    default_betas: tuple[float, float] = (0.9, 0.999)
    #: Some phases leave parameters without gradients (DistributedDataParallel must know).
    find_unused_parameters: bool = False

    def __init__(self, config: ModelConfig) -> None:
        if not isinstance(config.settings, self.Settings):
            raise InputError(f"{type(self).__name__} needs a config with {self.Settings.__name__} (its kind or a kind "
                             f"derived from it); got one of kind {config.kind!r} with {type(config.settings).__name__}")
        super().__init__()
        self.config = config
        self.latent_dim = config.latent_dim
        self.image_shape = (1, config.image_size, config.image_size)
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

    # -- training protocol -------------------------------------------------------------
    def phases(self) -> tuple[Phase, ...]:
        """The updates of one training step, in order."""
        return (Phase("model"),)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters stepped by each phase's optimiser."""
        return {"model": list(self.parameters())}

    def configure_optimisers(self, lr: float, betas: tuple[float, float] | None = None) -> dict[str, torch.optim.Optimizer]:
        """One Adam optimiser per parameter group (``betas`` default: :attr:`default_betas`)."""
        betas = tuple(float(b) for b in (betas if betas is not None else self.default_betas))
        return {name: torch.optim.Adam(params, lr=lr, betas=betas) for name, params in self.parameter_groups().items()}

    def after_update(self, phase: str) -> None:
        """Called after each optimiser step of ``phase`` (e.g. to update a weight average)."""

    def objective(self, phase: str, batch: Tensor | None, size: int) -> tuple[Tensor, dict[str, Tensor]]:
        """The loss of one ``phase`` update (a scalar) and detached values to log.

        Args:
            phase: a name from :meth:`phases`.
            batch: real images ``[b, 1, n, n]``, or ``None`` for a phase without data.
            size: the number of samples to use (``b``, or the batch size for noise-only phases).
        """
        raise NotImplementedError
