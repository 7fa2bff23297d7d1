"""A small MNIST digit classifier, trained by the project once and cached like a model.

It scores generated digits (:mod:`genprior.evaluation.digits`), the MNIST analogue of
the Inception network.  The network (:class:`DigitClassifier`) is two 3x3 convolutions
with max-pooling and one hidden dense layer, about 0.2 M parameters::

    x [B, 1, 28, 28] -> conv 16, ReLU, pool -> conv 32, ReLU, pool -> dense 128, ReLU -> 10 logits

trained with Adam on the cross-entropy ``-log softmax(f(x))_y`` of the training images,
seeded (initial weights and batch order), so the same data, settings and thread count
give the same weights.

The cache.  :func:`cached_digit_classifier` keys a classifier by its settings and the
SHA-256 of the data it learns from (training and test images and labels), and keeps it
in ``<data dir>/digit-classifier/<key>/`` (``model.safetensors`` + ``config.json``,
both written atomically; the data directory is MNIST's, ``$GENPRIOR_DATA`` or
``~/.cache/genprior``).  Other data or settings give another key, so a stale
classifier is never reused; a corrupt or unreadable entry is retrained and replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from genprior.errors import InputError

FORMAT = "genprior-digit-classifier"
CACHE_DIR = "digit-classifier"
WEIGHTS, CONFIG = "model.safetensors", "config.json"
MEAN, STD = 0.1307, 0.3081  # MNIST training pixel statistics, used to standardise inputs


@dataclass(frozen=True)
class ClassifierSettings:
    """Architecture and training recipe (every field is part of the cache key).

    Attributes:
        channels: output channels of the two convolutions.
        hidden: width of the hidden dense layer.
        epochs: passes over the training images.
        batch_size: images per Adam step.
        lr: Adam's initial learning rate, decayed by a cosine to 0 over the run.
        seed: seed of the initial weights and of the batch order.
    """

    channels: tuple[int, int] = (16, 32)
    hidden: int = 128
    epochs: int = 3
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassifierSettings:
        return cls(**{**d, "channels": tuple(d["channels"])})


class DigitClassifier(nn.Module):
    """``f: [B, 1, 28, 28] -> [B, 10]`` logits of the digits 0-9 (inputs in [0, 1])."""

    def __init__(self, settings: ClassifierSettings | None = None) -> None:
        super().__init__()
        self.settings = s = settings or ClassifierSettings()
        c1, c2 = s.channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # [B, c1, 14, 14]
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # [B, c2, 7, 7]
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c2 * 7 * 7, s.hidden), nn.ReLU(), nn.Linear(s.hidden, 10))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise InputError(f"the digit classifier takes images [B, 1, 28, 28], got {list(x.shape)}")
        return self.head(self.features((x - MEAN) / STD))

    @torch.no_grad()
    def probabilities(self, images: Tensor, batch_size: int = 1000) -> Tensor:
        """``p(y | x) = softmax(f(x))`` as float64 ``[N, 10]`` on the CPU, in batches."""
        device = next(self.parameters()).device
        out = [torch.softmax(self(images[i:i + batch_size].to(device, torch.float32)), dim=1).double().cpu()
               for i in range(0, images.shape[0], batch_size)]
        return torch.cat(out) if out else torch.zeros(0, 10, dtype=torch.float64)


def accuracy(classifier: nn.Module, images: Tensor, labels: Tensor) -> float:
    """Share of ``images`` whose most probable class is the label."""
    pred = classifier.probabilities(images).argmax(dim=1)
    return float((pred == labels.reshape(-1).long().cpu()).double().mean())


def train_digit_classifier(images: Tensor, labels: Tensor, settings: ClassifierSettings | None = None,
                           log: Callable[[str], None] | None = None) -> DigitClassifier:
    """Train a :class:`DigitClassifier` on ``images [N, 1, 28, 28]`` in [0, 1] with ``labels [N]`` in 0..9.

    Minimises the mean cross-entropy with Adam (cosine-decayed learning rate); the
    global torch random state is left as it was.
    """
    s = settings or ClassifierSettings()
    say = log or (lambda _msg: None)
    x, y = _check_data(images, labels, "training")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)
        model = DigitClassifier(s)
    order_rng = torch.Generator().manual_seed(s.seed + 1)
    steps_per_epoch = -(-x.shape[0] // s.batch_size)
    opt = torch.optim.Adam(model.parameters(), lr=s.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s.epochs * steps_per_epoch)
    model.train()
    start = time.perf_counter()
    for epoch in range(s.epochs):
        perm, total = torch.randperm(x.shape[0], generator=order_rng), 0.0
        for i in range(0, x.shape[0], s.batch_size):
            idx = perm[i:i + s.batch_size]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * idx.numel()
        say(f"  digit classifier: epoch {epoch + 1}/{s.epochs}, loss {total / x.shape[0]:.4f}, "
            f"{time.perf_counter() - start:.0f} s")
    model.zero_grad(set_to_none=True)
    return model.eval()


def _check_data(images: Tensor, labels: Tensor, what: str) -> tuple[Tensor, Tensor]:
    x = torch.as_tensor(images, dtype=torch.float32)
    y = torch.as_tensor(labels).reshape(-1).long()
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28) or x.shape[0] == 0:
        raise InputError(f"{what} images must be [N, 1, 28, 28] with N >= 1, got {list(x.shape)}")
    if y.shape[0] != x.shape[0]:
        raise InputError(f"{x.shape[0]} {what} images but {y.shape[0]} labels")
    if y.numel() and (y.min() < 0 or y.max() > 9):
        raise InputError(f"{what} labels must be digits 0-9, got values in [{int(y.min())}, {int(y.max())}]")
    return x, y


def data_hash(*arrays: Tensor | np.ndarray) -> str:
    """SHA-256 over the shapes, dtypes and bytes of ``arrays`` (images as float32, labels as int64)."""
    h = hashlib.sha256()
    for a in arrays:
        a = a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)
        a = np.ascontiguousarray(a, dtype=np.float32 if a.dtype.kind == "f" else np.int64)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def cache_key(settings: ClassifierSettings, digest: str) -> str:
    """16 hex digits naming the cache entry of ``settings`` trained on data with SHA-256 ``digest``."""
    text = json.dumps({"format": FORMAT, "settings": settings.to_dict(), "data": digest}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_digit_classifier(train: Tensor, train_labels: Tensor, test: Tensor, test_labels: Tensor,
                            settings: ClassifierSettings | None = None, cache_dir: str | os.PathLike | None = None,
                            log: Callable[[str], None] | None = None) -> DigitClassifier:
    """The classifier for this data and these settings: loaded from the cache, else trained and cached.

    Args:
        train, train_labels: training images ``[N, 1, 28, 28]`` in [0, 1] and digits ``[N]``.
        test, test_labels: test images and digits; the test accuracy is measured once and stored.
        settings: architecture and recipe (default :class:`ClassifierSettings`).
        cache_dir: root of the cache (default ``<data dir>/digit-classifier``).
        log: called with progress lines (training takes minutes on the full MNIST).

    Returns:
        The classifier in evaluation mode on the CPU; ``classifier.record`` holds its
        ``config.json`` (settings, test accuracy, training seconds, data hash, path).
    """
    from genprior.data.mnist import data_dir

    s = settings or ClassifierSettings()
    say = log or (lambda _msg: None)
    _check_data(test, test_labels, "test")
    digest = data_hash(train, train_labels, test, test_labels)
    key = cache_key(s, digest)
    entry = Path(cache_dir) if cache_dir is not None else data_dir() / CACHE_DIR
    entry = entry / key
    if (entry / CONFIG).exists() or (entry / WEIGHTS).exists():
        try:
            return load_digit_classifier(entry, expect_key=key)
        except (OSError, ValueError) as exc:
            say(f"digit classifier cache {entry} is unusable ({exc}); training it again")
    say(f"training the digit classifier on {train.shape[0]:,} images ({s.epochs} epochs; once, cached in {entry})")
    start = time.perf_counter()
    model = train_digit_classifier(train, train_labels, s, log=say)
    seconds = time.perf_counter() - start
    acc = accuracy(model, test, torch.as_tensor(test_labels))
    record = {"format": FORMAT, "format_version": 1, "key": key, "settings": s.to_dict(), "data_sha256": digest,
              "n_train": int(train.shape[0]), "n_test": int(test.shape[0]), "test_accuracy": acc,
              "train_seconds": seconds, "torch_threads": torch.get_num_threads(),
              "versions": {"torch": torch.__version__}}
    say(f"digit classifier: test accuracy {100 * acc:.2f}% after {seconds:.0f} s of training")
    try:
        _save(model, entry, record)
    except OSError as exc:  # e.g. a read-only data directory: usable now, trained again next time
        say(f"could not cache the digit classifier in {entry} ({exc}); it is used without caching")
        entry = None
    model.record = {**record, "path": None if entry is None else str(entry)}
    return model


def _save(model: DigitClassifier, entry: Path, record: dict[str, Any]) -> None:
    from genprior.atomic import write_json_atomic
    from genprior.models.checkpoint import save_weights

    entry.mkdir(parents=True, exist_ok=True)
    save_weights(model, entry / WEIGHTS)
    write_json_atomic(entry / CONFIG, record)  # last: an entry without it is incomplete


def load_digit_classifier(entry: str | os.PathLike, expect_key: str | None = None) -> DigitClassifier:
    """Load a cached classifier directory (safetensors, never unpickled).

    Raises:
        FileNotFoundError: the directory or one of its files is missing.
        ValueError: a file is corrupt, not a digit classifier, or (``expect_key``) holds another key.
    """
    from genprior.models.checkpoint import load_weights

    entry = Path(entry)
    for name in (CONFIG, WEIGHTS):
        if not (entry / name).is_file():
            raise FileNotFoundError(f"digit classifier {entry} is missing {name}")
    try:
        record = json.loads((entry / CONFIG).read_text(encoding="utf-8"))
        settings = ClassifierSettings.from_dict(record["settings"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{entry / CONFIG}: corrupt digit classifier config ({exc!r})") from exc
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise InputError(f"{entry / CONFIG}: not a digit classifier config")
    if expect_key is not None and record.get("key") != expect_key:
        raise InputError(f"{entry / CONFIG}: holds key {record.get('key')!r}, expected {expect_key!r}")
    model = load_weights(DigitClassifier(settings), entry / WEIGHTS).eval()
    model.record = {**record, "path": str(entry)}
    return model


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["ClassifierSettings", "DigitClassifier", "accuracy", "cache_key", "cached_digit_classifier",
           "data_hash", "load_digit_classifier", "n_parameters", "train_digit_classifier"]
