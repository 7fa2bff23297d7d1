"""Extending genprior with a model kind: one new module plus one registry line.

The module (written here to a temporary folder, as a user's file would be) defines a
model class and its settings dataclass; the line adds it to ``MODEL_KINDS``.  Its
``genprior train KIND`` command, with an option per setting, then exists by itself,
trains, and its checkpoint loads like any other.
"""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest
import torch

from cli_runner import run_script, user_folder
from genprior.models import MODEL_KINDS, ModelConfig, ModelKind, load_model

NEW_KIND = textwrap.dedent('''
    """A toy kind: an autoencoder whose codes get Gaussian noise in training, ||x - G(E(x) + s e)||^2."""
    from dataclasses import dataclass

    import torch

    from genprior.models.architectures import build_encoder
    from genprior.models.base import GenerativeModel
    from genprior.models.kinds import ModelSettings
    from genprior.params import param


    @dataclass(frozen=True)
    class NoisySettings(ModelSettings):
        code_noise: float = param(0.1, "std s of the noise added to the codes in training", minimum=0)


    class NoisyCodes(GenerativeModel):
        Settings = NoisySettings

        def __init__(self, config):
            super().__init__(config)
            self.encoder = build_encoder(config.preset, config.image_size, config.latent_dim, config.width)

        def encode(self, x):
            return self.encoder(x)

        def objective(self, phase, batch, size):
            z = self.encoder(batch)
            loss = (self.decoder(z + self.config.code_noise * torch.randn_like(z)) - batch).pow(2).flatten(1).sum(1)
            return loss.mean(), {"loss": loss.mean().detach()}
''')
KIND = {"model": "noisy_codes:NoisyCodes", "summary": "an autoencoder with noisy codes", "recipe": "ae"}

# The registry line (in genprior it goes into MODEL_KINDS; here a script adds it before the CLI loads).
REGISTER = """
import sys; sys.path.insert(0, {folder!r})
from genprior.models.kinds import MODEL_KINDS, ModelKind
MODEL_KINDS["noisy"] = ModelKind(**{kind!r})

from genprior.cli import main
main({args!r})
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return user_folder(tmp_path_factory.mktemp("kind"), "noisy_codes", NEW_KIND, (16, 1, 16, 16), (4, 1, 16, 16))


@pytest.fixture
def registered(folder, monkeypatch):
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setitem(MODEL_KINDS, "noisy", ModelKind(**KIND))


def _genprior(folder, args) -> subprocess.CompletedProcess:
    return run_script(REGISTER.format(folder=str(folder), kind=KIND, args=args))


def test_a_registered_model_kind_gets_its_train_command_and_trains(folder, registered):
    listed = _genprior(folder, ["train", "--help"])
    assert listed.returncode == 0, listed.stderr
    assert "noisy Train an autoencoder with noisy codes." in " ".join(listed.stdout.split())
    helped = _genprior(folder, ["train", "noisy", "--help"])
    assert helped.returncode == 0, helped.stderr
    text = " ".join(helped.stdout.split())
    assert "--code-noise <float> Std s of the noise added to the codes in training (default 0.1)." in text
    assert "--width <int>" in text and "--kl-weight" not in text and "--critic-steps" not in text

    out = folder / "run"
    run = _genprior(folder, ["train", "noisy", "--data", str(folder / "small.npz"), "--out", str(out), "--steps", "3",
                             "--batch-size", "4", "--latent-dim", "2", "--code-noise", "0.2", "--quiet"])
    assert run.returncode == 0, run.stderr
    assert "trained NOISY to step 3 of 3" in run.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == {"kind": "noisy", "preset": "compact", "latent_dim": 2, "image_size": 16,
                               "code_noise": 0.2}
    assert config["training"]["lr"] == 2e-3  # the AE recipe it names
    model = load_model(out)
    assert type(model).__name__ == "NoisyCodes" and model.config.code_noise == 0.2
    assert model(torch.randn(3, 2)).shape == (3, 1, 16, 16)

    bad = _genprior(folder, ["train", "noisy", "--data", str(folder / "small.npz"), "--out", str(folder / "bad"),
                             "--code-noise", "-1"])
    assert bad.returncode == 2 and "--code-noise must be finite and >= 0, got -1" in bad.stderr


def test_settings_belong_to_their_kind(registered):
    assert ModelConfig(kind="noisy", image_size=16).code_noise == 0.1
    with pytest.raises(ValueError, match=r"kl_weight does not apply to a NOISY \(it is for the VAE\)"):
        ModelConfig(kind="noisy", kl_weight=0.1)
    with pytest.raises(ValueError, match=r"code_noise does not apply to a GAN \(it is for the NOISY\)"):
        ModelConfig(kind="gan", code_noise=0.1)
    with pytest.raises(ValueError, match="unknown model setting 'depth' for kind 'noisy'"):
        ModelConfig(kind="noisy", depth=3)


def test_the_built_in_kinds_and_their_settings():
    assert list(MODEL_KINDS) == ["ae", "vae", "gan"]
    assert list(ModelConfig(kind="gan").settings.values()) == ["gp_weight", "critic_steps", "critic_width",
                                                                      "generator_ema", "generator_output"]
    assert ModelConfig(kind="vae").settings.values() == {"kl_weight": 0.01}
    assert ModelConfig(kind="ae").settings.values() == {}
    with pytest.raises(AttributeError):
        ModelConfig(kind="ae").kl_weight
