"""Trainable models: the generators AE, VAE and WGAN-GP sharing one decoder, their
architectures (``compact`` and ``paper`` presets), the noise-conditional denoiser
``D(x, sigma)`` (and the exact Gaussian one for tests), and safetensors checkpoints.
The kinds are listed once, in :data:`~genprior.models.kinds.MODEL_KINDS`.

Any ``torch.nn.Module`` mapping ``[B, d] -> [B, 1, H, W]`` with an integer
``latent_dim`` attribute is a generator every method accepts; these classes add an
encoder (AE, VAE) or a critic (GAN) and a training objective.
"""

from __future__ import annotations

from genprior.models.autoencoder import Autoencoder
from genprior.models.base import GenerativeModel
from genprior.models.checkpoint import build_model, load_model, read_config, save_checkpoint
from genprior.models.config import ModelConfig
from genprior.models.denoiser import Denoiser
from genprior.models.gaussian_denoiser import GaussianDenoiser
from genprior.models.kinds import MODEL_KINDS, ModelKind, ModelSettings
from genprior.models.trainable import Phase, TrainableModel
from genprior.models.vae import VAE
from genprior.models.wgan import WGAN


def create_model(kind: str, **settings) -> TrainableModel:
    """A new model of ``kind`` (a key of :data:`MODEL_KINDS`): ``create_model("gan", latent_dim=8, image_size=28)``."""
    return build_model({"kind": kind, **settings})


__all__ = ["MODEL_KINDS", "VAE", "WGAN", "Autoencoder", "Denoiser", "GaussianDenoiser", "GenerativeModel", "ModelConfig",
           "ModelKind", "ModelSettings", "Phase", "TrainableModel", "build_model", "create_model", "load_model",
           "read_config", "save_checkpoint"]
