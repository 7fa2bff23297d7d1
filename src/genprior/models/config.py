"""The configuration of a generative model: what ``config.json`` stores to rebuild it.

One dataclass serves the three kinds.  The architecture is ``preset``, ``latent_dim``
and ``image_size``; the objective's own constants live here too because they define
what the model's training step computes: ``kl_weight`` (VAE only), ``gp_weight`` and
``critic_steps`` (GAN only).  A constant that does not apply to the kind must stay
``None``; one that applies and is ``None`` takes the paper's default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from genprior.models.architectures import PRESETS
from genprior.validation import check_choice, check_positive

KINDS = ("ae", "vae", "gan")
KIND_FIELDS = {"ae": (), "vae": ("kl_weight",), "gan": ("gp_weight", "critic_steps")}
DEFAULTS = {"kl_weight": 0.01, "gp_weight": 10.0, "critic_steps": 5}


@dataclass
class ModelConfig:
    """Architecture and objective constants of an AE, VAE or WGAN-GP.

    Attributes:
        kind: ``"ae"``, ``"vae"`` or ``"gan"``.
        preset: ``"compact"`` (CPU-sized, the default) or ``"paper"`` (Appendix B).
        latent_dim: ``d``; the generator maps ``[B, d] -> [B, 1, n, n]``.
        image_size: ``n`` (square images).
        kl_weight: VAE: ``beta`` in ``||x - G(z)||^2 + beta KL`` (default 0.01).
        gp_weight: GAN: gradient-penalty weight (default 10).
        critic_steps: GAN: critic updates per generator update (default 5).
    """

    kind: str = "vae"
    preset: str = "compact"
    latent_dim: int = 10
    image_size: int = 56
    kl_weight: float | None = None
    gp_weight: float | None = None
    critic_steps: int | None = None

    def __post_init__(self) -> None:
        check_choice(self.kind, KINDS, "model kind")
        check_choice(self.preset, PRESETS, "preset")
        if isinstance(self.latent_dim, bool) or not isinstance(self.latent_dim, int) or self.latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {self.latent_dim!r}")
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int) or self.image_size < 8:
            raise ValueError(f"image_size must be an integer >= 8, got {self.image_size!r}")
        for name, default in DEFAULTS.items():
            value = getattr(self, name)
            if name not in KIND_FIELDS[self.kind]:
                if value is not None:
                    raise ValueError(f"{name} does not apply to a {self.kind.upper()} (it is for the "
                                     f"{'VAE' if name == 'kl_weight' else 'GAN'})")
                continue
            if value is None:
                setattr(self, name, default)
        if self.kl_weight is not None:
            check_positive(self.kl_weight, "kl_weight")
        if self.gp_weight is not None:
            check_positive(self.gp_weight, "gp_weight")
        if self.critic_steps is not None and (
            isinstance(self.critic_steps, bool) or not isinstance(self.critic_steps, int) or self.critic_steps < 1
        ):
            raise ValueError(f"critic_steps must be a positive integer, got {self.critic_steps!r}")

    def to_dict(self) -> dict[str, Any]:
        """The fields that apply to this kind (what ``config.json`` stores)."""
        return {k: v for k, v in asdict(self).items() if v is not None}
