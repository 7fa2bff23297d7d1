"""The model kinds: the one list of the models genprior builds and trains (generators and denoisers).

A kind is one line of :data:`MODEL_KINDS`: a :class:`ModelKind` naming its model class
(``"module:Class"``, imported on first use, so ``import genprior`` stays light) and a
one-line summary.  The class, a :class:`~genprior.models.trainable.TrainableModel` (a
generator, :class:`~genprior.models.base.GenerativeModel`, or a denoiser), carries
everything else: the kind's own settings as its ``Settings`` (a :class:`ModelSettings`
dataclass of defaults, bounds and help that :class:`~genprior.models.config.ModelConfig`
checks, ``config.json`` stores and ``genprior train KIND`` turns into one option per
field) and its training defaults as ``recipe(dataset, preset)``.  A kind whose class
subclasses another's inherits both, and may extend them.

A new kind is one module (the model class and its settings) plus one line here::

    "flow": ModelKind("mypackage.flow:Flow", "a normalising flow"),

or, from a package of its own, one entry point in the group ``genprior.model_kinds``
whose value is such a :class:`ModelKind` (:mod:`genprior.registry`).
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import ClassVar

from genprior.errors import InputError
from genprior.params import Params
from genprior.registry import Registry


@dataclass(frozen=True)
class ModelSettings(Params):
    """Base of a kind's own settings (the constants of its objective, the sizes of its own nets).

    Every field is made by :func:`genprior.params.param`; construction checks them.
    """

    #: settings that size the compact preset's nets (the paper preset's are fixed, so they stay unset)
    compact_only: ClassVar[tuple[str, ...]] = ()
    #: settings added after the first checkpoints: ``config.json`` leaves them out at their default,
    #: so an older ``config.json`` reads back as the same configuration
    omitted_at_default: ClassVar[tuple[str, ...]] = ()

    def complete(self, preset: str, width: int | None) -> ModelSettings:
        """These settings with the defaults that depend on the architecture filled in (here: none).

        Args:
            preset: the architecture preset, ``"compact"`` or ``"paper"``.
            width: the compact preset's channels at full resolution (``None`` for ``"paper"``).
        """
        return self


@dataclass(frozen=True)
class ModelKind:
    """One entry of :data:`MODEL_KINDS`.

    Attributes:
        model: the model class as ``"module:Class"`` (a
            :class:`~genprior.models.trainable.TrainableModel`: it has ``Settings`` and ``recipe``).
        summary: what the kind is, in a line (``genprior train KIND --help`` says "Train <summary>.").
    """

    model: str
    summary: str

    @property
    def model_class(self) -> type:
        """The model class (its module is imported now)."""
        module, _, name = self.model.partition(":")
        return getattr(importlib.import_module(module), name)

    @property
    def settings(self) -> type[ModelSettings]:
        """The dataclass of the kind's own settings."""
        return self.model_class.Settings


MODEL_KINDS: Registry[ModelKind] = Registry("model kind", "genprior.model_kinds",
                                           lambda e: isinstance(e, ModelKind), "a genprior.models.kinds.ModelKind", {
    "ae": ModelKind("genprior.models.autoencoder:Autoencoder",
                    "an autoencoder (the paper's equation (5)): ||x - G(E(x))||^2"),
    "vae": ModelKind("genprior.models.vae:VAE", "a VAE (the paper's equation (6)): recon + beta KL"),
    "gan": ModelKind("genprior.models.wgan:WGAN", "a WGAN-GP (the paper's GAN; the critic is the encoder "
                     "architecture with one output; Adam betas (0, 0.9))"),
    "denoiser": ModelKind("genprior.models.denoiser:Denoiser", "a noise-conditional denoiser D(x, sigma): a small "
                          "UNet with EDM preconditioning, trained on noise levels drawn log-uniform over its range"),
})


def get_kind(name: str) -> ModelKind:
    """The entry of model kind ``name``; :class:`~genprior.errors.InputError` listing the kinds if there is none."""
    if not isinstance(name, str):
        raise InputError(f"a model kind is a name, got {name!r}")
    return MODEL_KINDS.get_entry(name)


def setting_names(kind: str) -> tuple[str, ...]:
    """The names of the settings of model kind ``kind``."""
    return tuple(f.name for f in dataclasses.fields(get_kind(kind).settings))
