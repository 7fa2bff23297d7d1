"""The configuration of a generative model: what ``config.json`` stores to rebuild it.

One class serves every kind (:mod:`genprior.models.kinds`).  The architecture is
``preset``, ``latent_dim`` (generators only: a kind without a latent space, such as the
denoiser, has ``latent_dim = None`` and ``config.json`` leaves it out), ``image_size``
and, for the compact preset, ``width``; the
kind's own settings (the objective's constants and the sizes of its own nets, such as
the VAE's ``kl_weight`` or the GAN's ``gp_weight``, ``critic_steps``, ``critic_width``
and ``generator_ema``) are its ``Settings`` dataclass, given as keywords and read as
attributes: ``ModelConfig(kind="vae", kl_weight=0.05).kl_weight``.  A setting of
another kind, or one of the compact preset's nets given for the paper preset, is an
error; an omitted one takes its default (the paper's, where the paper has one).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from genprior.errors import InputError
from genprior.models.architectures import COMPACT_WIDTH, PRESETS
from genprior.models.kinds import MODEL_KINDS, ModelSettings, get_kind, setting_names
from genprior.params import Params, param

DEFAULT_LATENT = 10  # a generator's latent dimension when none is given


@dataclass(frozen=True)
class Architecture(Params):
    """The architecture options of a generator kind (``genprior train`` generates its flags from them)."""

    preset: str = param("compact", "architecture: compact (CPU-sized) or paper (Appendix B)", choices=PRESETS)
    latent_dim: int = param(DEFAULT_LATENT, "latent dimension d", minimum=1)
    width: int | None = param(None, "compact preset: channels at full resolution, doubling at each halving",
                              minimum=1)


@dataclass(frozen=True)
class CompactArchitecture(Params):
    """The architecture options of a kind with no latent space and the compact preset only (the denoiser)."""

    preset: str = param("compact", "architecture: compact (CPU-sized; the kind's only preset)", choices=("compact",))
    width: int | None = param(None, "channels at full resolution, doubling at each halving", minimum=1)


def architecture_of(kind: str) -> type[Params]:
    """The architecture options of ``kind``: its model class's ``Architecture`` (a class without
    one, such as a user's generator, has the generators' :class:`Architecture`)."""
    return getattr(get_kind(kind).model_class, "Architecture", Architecture)


def presets_of(kind: str) -> tuple[str, ...]:
    """The presets ``kind`` has (the choices of its architecture's ``preset``)."""
    field = next(f for f in dataclasses.fields(architecture_of(kind)) if f.name == "preset")
    return tuple(field.metadata["choices"])


def _compact_only(name: str, preset: str) -> InputError:
    return InputError(f"{name} sets the compact preset's nets; the {preset!r} preset has fixed architectures")


def _not_a_setting(name: str, kind: str) -> InputError:
    owners = [k.upper() for k in MODEL_KINDS if k != kind and name in setting_names(k)]
    if owners:
        return InputError(f"{name} does not apply to a {kind.upper()} (it is for the {' or the '.join(owners)})")
    return InputError(f"unknown model setting {name!r} for kind {kind!r} (its settings: "
                      f"{', '.join(setting_names(kind)) or 'none'})")


@dataclass(init=False)
class ModelConfig:
    """Architecture and objective constants of a model of any kind.

    Attributes:
        kind: a key of :data:`~genprior.models.kinds.MODEL_KINDS` (``"ae"``, ``"vae"``, ``"gan"``).
        preset: ``"compact"`` (CPU-sized, the default) or ``"paper"`` (Appendix B; generators only).
        latent_dim: ``d``; the generator maps ``[B, d] -> [B, 1, n, n]`` (default 10); ``None``
            for a kind without a latent space.
        image_size: ``n`` (square images).
        width: compact preset: channels at full resolution, doubling at each halving
            (default 16); ``None`` for the paper preset.
        settings: the kind's own settings (its ``Settings``), also readable as attributes.
    """

    kind: str
    preset: str
    latent_dim: int | None
    image_size: int
    width: int | None
    settings: ModelSettings

    def __init__(self, kind: str = "vae", preset: str = "compact", latent_dim: int | None = None,
                 image_size: int = 56, width: int | None = None, **settings: Any) -> None:
        """Check the architecture and the kind's ``settings`` (``None`` values: the defaults)."""
        entry = get_kind(kind)
        options = architecture_of(kind)
        presets = presets_of(kind)
        if preset in PRESETS and preset not in presets:
            raise InputError(f"the {kind} kind has no {preset!r} preset (its presets: {', '.join(presets)})")
        if "latent_dim" in {f.name for f in dataclasses.fields(options)}:
            latent_dim = DEFAULT_LATENT if latent_dim is None else latent_dim
            options(preset=preset, latent_dim=latent_dim, width=width)  # checks each
        elif latent_dim is not None:
            raise InputError(f"a {kind} has no latent space: leave out `latent_dim={latent_dim}`")
        else:
            options(preset=preset, width=width)
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
            raise InputError(f"image_size must be an integer >= 8, got {image_size!r}")
        if preset != "compact" and width is not None:
            raise _compact_only("width", preset)
        if preset == "compact":
            width = COMPACT_WIDTH if width is None else width
        given = {name: value for name, value in settings.items() if value is not None}
        own = setting_names(kind)
        for name in given:
            if name not in own:
                raise _not_a_setting(name, kind)
            if preset != "compact" and name in entry.settings.compact_only:
                raise _compact_only(name, preset)
        self.kind, self.preset, self.latent_dim, self.image_size, self.width = kind, preset, latent_dim, image_size, width
        self.settings = entry.settings(**given).complete(preset, width)

    def __getattr__(self, name: str) -> Any:
        """A setting of the kind, e.g. ``config.kl_weight`` of a VAE."""
        settings = self.__dict__.get("settings")
        if settings is not None and name in {f.name for f in dataclasses.fields(settings)}:
            return getattr(settings, name)
        raise AttributeError(f"{type(self).__name__} of kind {self.__dict__.get('kind')!r} has no {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """The architecture and the kind's settings (what ``config.json`` stores).

        ``width`` and the kind's ``omitted_at_default`` settings are left out at their
        defaults, so a ``config.json`` written before they existed reads back unchanged.
        """
        out: dict[str, Any] = {"kind": self.kind, "preset": self.preset}
        if self.latent_dim is not None:
            out["latent_dim"] = self.latent_dim
        out["image_size"] = self.image_size
        if self.width is not None and self.width != COMPACT_WIDTH:
            out["width"] = self.width
        defaults = type(self.settings)().complete(self.preset, self.width).values()
        for name, value in self.settings.values().items():
            if value is not None and not (name in self.settings.omitted_at_default and value == defaults[name]):
                out[name] = value
        return out
