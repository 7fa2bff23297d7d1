"""``genprior train vae ...``: train a generative model into a checkpoint directory."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from genprior.cli.app import train_app


@train_app.command("vae")
def train_vae(
    data: Path = typer.Option(..., "--data", help="Training data (.npz made by `genprior data`); uses its train split."),
    out: Path = typer.Option(..., "--out", "-o", help="Checkpoint directory (model.safetensors + config.json)."),
    latent_dim: int = typer.Option(10, "--latent-dim", help="Latent dimension d."),
    preset: str = typer.Option("compact", "--preset", help="Architecture: compact (CPU-sized) or paper (Appendix B)."),
    steps: int = typer.Option(3000, "--steps", help="Adam steps."),
    batch_size: int = typer.Option(32, "--batch-size", help="Images per step."),
    lr: float = typer.Option(5e-4, "--lr", help="Adam learning rate."),
    kl_weight: float = typer.Option(0.01, "--kl-weight", help="beta in recon + beta KL (0.01 Shapes, 0.05 MNIST)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the initial weights and the batch order."),
    max_seconds: float = typer.Option(None, "--max-seconds", help="Stop early after this many seconds."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train a VAE (the paper's equation (6)) and save it as a checkpoint."""
    import torch

    from genprior.data.io import load_dataset_meta, load_images
    from genprior.models.vae import VAE, ModelConfig
    from genprior.training.loop import TrainConfig, train

    images = load_images(data, "train")
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, max_seconds=max_seconds)
    model_config = ModelConfig(kind="vae", preset=preset, latent_dim=latent_dim,
                               image_size=int(images.shape[-1]), kl_weight=kl_weight)
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"{data}: images must be square, got {list(images.shape[-2:])}")
    torch.manual_seed(seed)
    model = VAE(model_config)
    started = time.perf_counter()
    history = train(model, images, out, config, progress=not quiet,
                    data_info={"path": str(data), **load_dataset_meta(data)})
    last = history[-1]
    typer.echo(f"trained {last['step']} steps in {time.perf_counter() - started:.1f} s; "
               f"final loss {last['loss']:.4g}; checkpoint in {out}")
