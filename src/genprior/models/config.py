"""The configuration of a generative model: what ``config.json`` stores to rebuild it.

One dataclass serves the three kinds.  The architecture is ``preset``, ``latent_dim``,
``image_size`` and, for the compact preset, ``width`` (and the GAN's ``critic_width``);
the objective's own constants live here too because they define what the model's
training step computes: ``kl_weight`` (VAE only), ``gp_weight``, ``critic_steps`` and
``generator_ema`` (GAN only).  A setting that does not apply to the kind or preset must
stay ``None``; one that applies and is ``None`` takes its default (the paper's, where
the paper has one).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from genprior.models.architectures import COMPACT_WIDTH, PRESETS
from genprior.validation import check_choice, check_positive

KINDS = ("ae", "vae", "gan")
KIND_FIELDS = {"ae": (), "vae": ("kl_weight",), "gan": ("gp_weight", "critic_steps", "critic_width", "generator_ema")}
COMPACT_FIELDS = ("width", "critic_width")  # settings of the compact preset's nets only
DEFAULTS = {"kl_weight": 0.01, "gp_weight": 10.0, "critic_steps": 5, "width": COMPACT_WIDTH, "critic_width": None,
            "generator_ema": 0.0}
# Settings added after the first checkpoints: left out of ``to_dict`` at their default, so an
# older ``config.json`` (and the run it belongs to) reads back as the same configuration.
_OMITTED_AT_DEFAULT = ("width", "critic_width", "generator_ema")


def _positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


@dataclass
class ModelConfig:
    """Architecture and objective constants of an AE, VAE or WGAN-GP.

    Attributes:
        kind: ``"ae"``, ``"vae"`` or ``"gan"``.
        preset: ``"compact"`` (CPU-sized, the default) or ``"paper"`` (Appendix B).
        latent_dim: ``d``; the generator maps ``[B, d] -> [B, 1, n, n]``.
        image_size: ``n`` (square images).
        width: compact preset: channels at full resolution, doubling at each halving
            (default 16).
        kl_weight: VAE: ``beta`` in ``||x - G(z)||^2 + beta KL`` (default 0.01).
        gp_weight: GAN: gradient-penalty weight (default 10).
        critic_steps: GAN: critic updates per generator update (default 5).
        critic_width: GAN, compact preset: the critic's ``width`` (default: ``width``).
        generator_ema: GAN: decay ``beta`` of the exponential moving average of the
            generator's weights, ``w_avg <- beta w_avg + (1 - beta) w`` after each
            generator update; the average is the generator used after training.  0 (the
            default, as in the paper) keeps no average.
    """

    kind: str = "vae"
    preset: str = "compact"
    latent_dim: int = 10
    image_size: int = 56
    kl_weight: float | None = None
    gp_weight: float | None = None
    critic_steps: int | None = None
    width: int | None = None
    critic_width: int | None = None
    generator_ema: float | None = None

    def __post_init__(self) -> None:
        check_choice(self.kind, KINDS, "model kind")
        check_choice(self.preset, PRESETS, "preset")
        _positive_int(self.latent_dim, "latent_dim")
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int) or self.image_size < 8:
            raise ValueError(f"image_size must be an integer >= 8, got {self.image_size!r}")
        for name, default in DEFAULTS.items():
            value = getattr(self, name)
            applies = name in KIND_FIELDS[self.kind] or name == "width"
            if applies and name in COMPACT_FIELDS and self.preset != "compact":
                if value is not None:
                    raise ValueError(f"{name} sets the compact preset's nets; the {self.preset!r} preset has "
                                     "fixed architectures")
                continue
            if not applies:
                if value is not None:
                    raise ValueError(f"{name} does not apply to a {self.kind.upper()} (it is for the "
                                     f"{'VAE' if name == 'kl_weight' else 'GAN'})")
                continue
            if value is None:
                setattr(self, name, self.width if name == "critic_width" else default)
        if self.kl_weight is not None:
            check_positive(self.kl_weight, "kl_weight")
        if self.gp_weight is not None:
            check_positive(self.gp_weight, "gp_weight")
        for name in ("critic_steps", "width", "critic_width"):
            if getattr(self, name) is not None:
                _positive_int(getattr(self, name), name)
        if self.generator_ema is not None and not (
            isinstance(self.generator_ema, (int, float)) and 0 <= self.generator_ema < 1
        ):
            raise ValueError(f"generator_ema must be a number in [0, 1), got {self.generator_ema!r}")

    def to_dict(self) -> dict[str, Any]:
        """The fields that apply to this kind (what ``config.json`` stores)."""
        out = {k: v for k, v in asdict(self).items() if v is not None}
        for name in _OMITTED_AT_DEFAULT:
            default = self.width if name == "critic_width" else DEFAULTS[name]
            if name in out and out[name] == default:
                del out[name]
        return out
