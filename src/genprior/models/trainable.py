"""The training protocol every trainable model kind follows (generators and denoisers alike).

:func:`genprior.training.loop.train` drives a :class:`TrainableModel`: a training *step*
is a sequence of :class:`Phase` updates (:meth:`TrainableModel.phases`).  Each phase
update computes :meth:`TrainableModel.objective` on a fresh batch of real images (or on
noise only, ``uses_data=False``) and takes one Adam step of the optimiser of the same
name, built by :meth:`TrainableModel.configure_optimisers` from :meth:`parameter_groups`;
then :meth:`after_update` runs (a weight average, for instance).  AE, VAE and denoiser
have one phase, ``"model"``; the WGAN-GP has ``critic_steps`` x ``"critic"`` then one
``"generator"`` update.  Every ``sample_every`` steps the loop saves the grid of
:meth:`TrainableModel.preview` (a generator's samples, a denoiser's noisy and denoised
images).

What a model *is* for the rest of genprior is its subclass's contract:
:class:`~genprior.models.base.GenerativeModel` (``G: [B, d] -> [B, 1, n, n]``, used by
the reconstruction methods) or :class:`~genprior.models.denoiser.Denoiser`
(``D(x, sigma)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.models.config import CompactArchitecture, ModelConfig
from genprior.models.kinds import ModelSettings
from genprior.models.recipes import Recipe
from genprior.params import Params


@dataclass(frozen=True)
class Phase:
    """One kind of update in a training step.

    Attributes:
        name: the optimiser it steps (a key of :meth:`TrainableModel.parameter_groups`).
        repeats: updates of this phase per training step.
        uses_data: each update draws a fresh batch of training images.
    """

    name: str
    repeats: int = 1
    uses_data: bool = True


@dataclass(frozen=True)
class Preview:
    """A grid of images the training loop saves to show progress.

    Attributes:
        images: ``[k, 1, n, n]`` in ``[0, 1]`` (on the CPU), tiled row by row.
        ncol: images per row.
        title: what the grid shows (the loop adds the kind and the step).
    """

    images: Tensor
    ncol: int
    title: str


class TrainableModel(nn.Module):
    """Base class of a model kind the shared loop trains: its settings, recipe and objective.

    A subclass sets :attr:`Settings` (its kind's :class:`ModelSettings`) and implements
    :meth:`recipe`, :meth:`objective` and :meth:`preview`; the other methods have
    defaults for a model with one optimiser.
    """

    #: The kind's own settings (:mod:`genprior.models.kinds`); ``config.NAME`` reads them.
    Settings: type[ModelSettings] = ModelSettings
    #: The kind's architecture options (its presets; generators add ``latent_dim``).
    Architecture: ClassVar[type[Params]] = CompactArchitecture
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
        self.image_shape = (1, config.image_size, config.image_size)

    @classmethod
    def recipe(cls, dataset: str | None, preset: str) -> Recipe:
        """The training defaults of this kind on ``dataset`` (``"mnist"``, ``"shapes"``, ``"knee"``;
        ``None``: an unknown data set) for ``preset``."""
        raise NotImplementedError(f"{cls.__name__} has no training recipe")

    def phases(self) -> tuple[Phase, ...]:
        """The updates of one training step, in order."""
        return (Phase("model"),)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters stepped by each phase's optimiser."""
        return {"model": [p for p in self.parameters() if p.requires_grad]}

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

    def preview(self, images: Tensor, generator: torch.Generator) -> Preview:
        """The progress grid: called in evaluation mode without gradients, with the first training
        ``images`` and a freshly seeded ``generator`` (so every grid of a run shows the same inputs)."""
        raise NotImplementedError
