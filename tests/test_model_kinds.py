"""Model kinds: their settings belong to them, a subclass inherits its parent's settings and recipe,
and a script can register a kind (the installed-package route is in test_extending.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from genprior.models import MODEL_KINDS, VAE, Autoencoder, ModelConfig, ModelKind, ModelSettings, create_model
from genprior.params import param
from genprior.training.recipes import recipe, recipe_settings


@dataclass(frozen=True)
class NoisySettings(ModelSettings):
    code_noise: float = param(0.1, "std s of the noise added to the codes in training", minimum=0)


class NoisyCodes(Autoencoder):
    """An autoencoder whose codes get noise in training (its own setting, the autoencoder's recipe)."""

    Settings = NoisySettings


class WarmVAE(VAE):
    """A VAE with a recipe of its own: the VAE's, with twice the steps."""

    @classmethod
    def recipe(cls, dataset, preset):
        from dataclasses import replace

        base = super().recipe(dataset, preset)
        return replace(base, steps=2 * base.steps, source=base.source + "; twice the steps")


@pytest.fixture
def registered():
    MODEL_KINDS.register("noisy", ModelKind(f"{__name__}:NoisyCodes", "an autoencoder with noisy codes"))
    MODEL_KINDS.register("warm-vae", ModelKind(f"{__name__}:WarmVAE", "a VAE trained twice as long"))
    yield
    MODEL_KINDS.unregister("noisy")
    MODEL_KINDS.unregister("warm-vae")


def test_settings_belong_to_their_kind(registered):
    assert ModelConfig(kind="noisy", image_size=16).code_noise == 0.1
    with pytest.raises(ValueError, match=r"kl_weight does not apply to a NOISY \(it is for the VAE or the WARM-VAE\)"):
        ModelConfig(kind="noisy", kl_weight=0.1)
    with pytest.raises(ValueError, match=r"code_noise does not apply to a GAN \(it is for the NOISY\)"):
        ModelConfig(kind="gan", code_noise=0.1)
    with pytest.raises(ValueError, match="unknown model setting 'depth' for kind 'noisy'"):
        ModelConfig(kind="noisy", depth=3)


def test_a_subclassed_kind_inherits_settings_and_recipe_and_may_extend_them(registered):
    assert recipe("noisy", "mnist") == recipe("ae", "mnist")  # the autoencoder's recipe, inherited
    warm, vae = recipe("warm-vae", "shapes"), recipe("vae", "shapes")
    assert warm.steps == 2 * vae.steps and warm.model == {"kl_weight": 0.01} and warm.source.endswith("twice the steps")
    model_config, train_config = recipe_settings("warm-vae", "mnist", "compact", 28)
    assert model_config.kl_weight == 0.05 and train_config.steps == 2 * recipe("vae", "mnist").steps
    model = create_model("warm-vae", latent_dim=3, image_size=16)
    assert isinstance(model, VAE) and model.encode(torch.rand(2, 1, 16, 16)).shape == (2, 3)
    with pytest.raises(ValueError, match="WGAN needs a config with GANSettings .* of kind 'warm-vae'"):
        from genprior.models import WGAN

        WGAN(ModelConfig(kind="warm-vae"))


def test_a_kind_is_registered_once_and_only_as_a_model_kind(registered):
    with pytest.raises(ValueError, match="registers the model kind 'noisy', which a script already provides"):
        MODEL_KINDS.register("noisy", ModelKind(f"{__name__}:NoisyCodes", "again"))
    with pytest.raises(ValueError, match="registers the model kind 'vae', which genprior already provides"):
        MODEL_KINDS.register("vae", ModelKind(f"{__name__}:WarmVAE", "a VAE"))
    with pytest.raises(ValueError, match="is str, not a genprior.models.kinds.ModelKind"):
        MODEL_KINDS.register("text", f"{__name__}:NoisyCodes")
    with pytest.raises(ValueError, match="the built-in model kind 'ae' cannot be removed"):
        MODEL_KINDS.unregister("ae")
    assert MODEL_KINDS.owner("noisy") == "a script" and MODEL_KINDS.owner("ae") == "genprior"


def test_the_built_in_kinds_and_their_settings():
    builtin = {"ae", "vae", "gan", "denoiser"}
    assert set(MODEL_KINDS.builtins()) == builtin and set(MODEL_KINDS) >= builtin
    assert list(ModelConfig(kind="gan").settings.values()) == ["gp_weight", "critic_steps", "critic_width",
                                                                      "generator_ema", "generator_output"]
    assert ModelConfig(kind="vae").settings.values() == {"kl_weight": 0.01}
    assert ModelConfig(kind="ae").settings.values() == {}
    with pytest.raises(AttributeError):
        ModelConfig(kind="ae").kl_weight
