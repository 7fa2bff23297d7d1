"""Training lowers the loss and beats a trivial model (a few hundred steps on small Shapes).

Shapes images (one circle, one rectangle) are averaged down to 28 x 28 so that both
models train in seconds on a CPU.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genprior.data.shapes import shapes_dataset
from genprior.models import create_model
from genprior.training.loop import TrainConfig, train

STEPS = 200


@pytest.fixture(scope="module")
def shapes28():
    train_set, test_set = shapes_dataset(512, 64, seed=5)
    small = lambda a: F.avg_pool2d(torch.from_numpy(a).float(), 2)  # noqa: E731  [N, 1, 28, 28]
    return small(train_set), small(test_set)


def first_and_last(history: list[dict[str, float]], key: str) -> tuple[float, float]:
    """The mean of ``key`` over the first two and the last two logged rows."""
    values = [row[key] for row in history]
    return sum(values[:2]) / 2, sum(values[-2:]) / 2


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_training_lowers_the_loss_and_beats_the_mean_image(tmp_path, shapes28, kind):
    images, test = shapes28
    torch.manual_seed(0)
    model = create_model(kind, latent_dim=8, image_size=28)
    config = TrainConfig(steps=STEPS, batch_size=32, lr=2e-3, log_every=20, checkpoint_every=STEPS,
                         sample_every=None)
    history = train(model, images, tmp_path / kind, config, progress=False)
    first, last = first_and_last(history, "loss")
    assert last < 0.3 * first, f"{kind}: loss {first:.4g} -> {last:.4g}"
    if kind != "ae":
        return
    model.eval()
    with torch.no_grad():
        recon = model(model.encode(test))
    error = F.mse_loss(recon, test).item()
    trivial = F.mse_loss(images.mean(0, keepdim=True).expand_as(test), test).item()  # the mean training image
    assert error < 0.4 * trivial, f"AE test MSE {error:.4g} vs mean image {trivial:.4g}"
