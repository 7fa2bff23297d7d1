"""The MNIST digit classifier, its cache, the sample-quality scores and their place in the report card."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import torch
from torch import nn

from genprior.evaluation.digit_classifier import (
    CONFIG,
    WEIGHTS,
    ClassifierSettings,
    DigitClassifier,
    cached_digit_classifier,
    load_digit_classifier,
    n_parameters,
)
from genprior.evaluation.digits import digit_quality, digit_sample_quality, quality_from_probabilities

TINY = ClassifierSettings(channels=(4, 8), hidden=16, epochs=5, batch_size=16, lr=1e-2)


def bar(k: int) -> torch.Tensor:
    """The fake digit ``k``: a horizontal bar at rows ``2k + 4 .. 2k + 6`` of a 28x28 image."""
    img = torch.zeros(1, 28, 28)
    img[0, 2 * k + 4: 2 * k + 7, 4:24] = 1.0
    return img


def fake_digits(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` noisy bars with their digits as labels: a data set a tiny classifier learns in a second."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 10
    images = torch.stack([bar(int(k)) for k in labels]) * 0.8 + 0.2 * torch.rand(n, 1, 28, 28, generator=g)
    return images, labels


class BarGenerator(nn.Module):
    """A good 'generator' of the fake digits: bar ``k`` for ``10 Phi(z_1)`` in ``[k, k + 1)`` (blended
    smoothly near the edges), so each digit has probability 1/10."""

    def __init__(self, latent_dim: int = 4) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.register_buffer("bars", torch.stack([bar(k) for k in range(10)]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        u = 10 * torch.special.ndtr(z[:, :1])                                  # [B, 1] in (0, 10)
        w = torch.softmax(-50 * (u - torch.arange(10) - 0.5) ** 2, dim=1)     # [B, 10]
        return torch.einsum("bk,kchw->bchw", w, self.bars)                     # [B, 1, 28, 28]


@pytest.fixture(scope="module")
def fake():
    train, train_labels = fake_digits(300, 0)
    test, test_labels = fake_digits(100, 1)
    return train, train_labels, test, test_labels


@pytest.fixture(scope="module")
def tiny_classifier(fake, tmp_path_factory):
    return cached_digit_classifier(*fake, settings=TINY, cache_dir=tmp_path_factory.mktemp("clf"))


# ----------------------------------------------------------------------------- the network


def test_classifier_shape_and_size():
    model = DigitClassifier()
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 10)
    assert 100_000 < n_parameters(model) < 300_000  # 206,922: "a few hundred thousand at most"
    p = model.probabilities(torch.rand(7, 1, 28, 28), batch_size=3)
    assert p.shape == (7, 10) and torch.allclose(p.sum(1), torch.ones(7, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\[B, 1, 28, 28\]"):
        model(torch.rand(2, 1, 56, 56))


def test_training_is_seeded_and_learns_the_fake_digits(fake, tiny_classifier, tmp_path):
    again = cached_digit_classifier(*fake, settings=TINY, cache_dir=tmp_path)  # a fresh cache: trained anew
    for a, b in zip(tiny_classifier.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert tiny_classifier.record["test_accuracy"] >= 0.95
    assert not tiny_classifier.training and all(p.grad is None for p in tiny_classifier.parameters())


# ----------------------------------------------------------------------------- the scores


def test_balanced_confident_classes_score_perfectly():
    probs = torch.eye(10).repeat(7, 1)  # 70 images, 7 of each digit, certain
    q = quality_from_probabilities(probs)
    assert q.n == 70 and q.counts == [7] * 10 and q.confident_share == 1.0
    assert q.tv_uniform == pytest.approx(0.0, abs=1e-12) and q.min_share == pytest.approx(0.1)
    assert q.inception_score == pytest.approx(10.0)


def test_one_class_has_no_coverage():
    probs = torch.full((20, 10), 0.05 / 9)
    probs[:, 3] = 0.95
    q = quality_from_probabilities(probs)
    assert q.counts[3] == 20 and q.min_share == 0.0 and q.min_digit != 3
    assert q.tv_uniform == pytest.approx(0.9) and q.confident_share == 1.0
    assert q.inception_score == pytest.approx(1.0)  # every image has the marginal's distribution


def test_confident_share_and_inception_score_of_known_probabilities():
    sure = torch.eye(10)[:2]                            # two certain images (digits 0 and 1)
    unsure = torch.full((2, 10), 0.1)                   # two images the classifier cannot place
    probs = torch.cat([sure, unsure])
    q = quality_from_probabilities(probs, threshold=0.9)
    assert q.confident_share == 0.5 and q.mean_confidence == pytest.approx(0.55)
    marginal = probs.double().mean(0)
    kl = [float((p[p > 0] * (p[p > 0] / marginal[p > 0]).log()).sum()) for p in probs.double()]
    assert q.inception_score == pytest.approx(math.exp(sum(kl) / 4))
    assert quality_from_probabilities(torch.full((5, 10), 0.1)).inception_score == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\[N, 10\]"):
        quality_from_probabilities(torch.ones(3, 9) / 9)
    with pytest.raises(ValueError, match="threshold"):
        quality_from_probabilities(probs, threshold=0.0)


def test_digit_quality_takes_any_logit_module_and_clamps():
    class ByBrightness(nn.Module):  # class = brightness of the first pixel (clamped to [0, 1]) x 9
        def forward(self, x):
            return 50.0 * nn.functional.one_hot((x[:, 0, 0, 0] * 9).round().long(), 10).float()

    x = torch.zeros(30, 1, 28, 28)
    x[:, 0, 0, 0] = torch.tensor([k / 9 for k in range(10)] * 3)
    x[0, 0, 0, 0] = -5.0  # clamped to 0: still digit 0
    q = digit_quality(x, ByBrightness(), batch_size=7)
    assert q.counts == [3] * 10 and q.confident_share == 1.0
    with pytest.raises(ValueError, match="MNIST-sized"):
        digit_quality(torch.rand(4, 1, 16, 16), ByBrightness())


def test_a_good_generator_scores_like_the_test_set_and_noise_does_not(fake, tiny_classifier):
    ref = digit_quality(fake[2], tiny_classifier)
    good = digit_sample_quality(BarGenerator(), n=500, seed=3, classifier=tiny_classifier)
    noise = digit_quality(torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0)), tiny_classifier)
    assert ref.confident_share > 0.9 and good.confident_share > 0.9
    assert good.min_share > 0.03 and good.tv_uniform < 0.3
    assert noise.inception_score < 2 < good.inception_score
    assert digit_sample_quality(BarGenerator(), n=50, seed=3, classifier=tiny_classifier) == \
        digit_sample_quality(BarGenerator(), n=50, seed=3, classifier=tiny_classifier)


# ----------------------------------------------------------------------------- the cache


def test_cache_is_reused_and_keyed_by_data_and_settings(fake, tmp_path):
    lines: list[str] = []
    first = cached_digit_classifier(*fake, settings=TINY, cache_dir=tmp_path, log=lines.append)
    assert any("training the digit classifier" in line for line in lines)
    entry = tmp_path / first.record["key"]
    assert (entry / WEIGHTS).is_file() and json.loads((entry / CONFIG).read_text())["test_accuracy"] >= 0.95
    lines.clear()
    start = time.perf_counter()
    second = cached_digit_classifier(*fake, settings=TINY, cache_dir=tmp_path, log=lines.append)
    assert lines == [] and time.perf_counter() - start < 5
    assert second.record["key"] == first.record["key"]
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    # other labels (stale data) or other settings: another entry, trained afresh
    train, labels, test, test_labels = fake
    stale = cached_digit_classifier(train, (labels + 1) % 10, test, test_labels, settings=TINY,
                                    cache_dir=tmp_path, log=lines.append)
    other = cached_digit_classifier(*fake, settings=ClassifierSettings(**{**TINY.__dict__, "epochs": 1}),
                                    cache_dir=tmp_path, log=lines.append)
    assert len({first.record["key"], stale.record["key"], other.record["key"]}) == 3
    assert sum("training the digit classifier" in line for line in lines) == 2


@pytest.mark.parametrize("damage", ["config", "weights", "key"])
def test_a_corrupt_cache_entry_is_retrained(fake, tmp_path, damage):
    first = cached_digit_classifier(*fake, settings=TINY, cache_dir=tmp_path)
    entry = tmp_path / first.record["key"]
    if damage == "config":
        (entry / CONFIG).write_text("{not json")
    elif damage == "weights":
        (entry / WEIGHTS).write_bytes((entry / WEIGHTS).read_bytes()[:100])
    else:
        record = json.loads((entry / CONFIG).read_text())
        (entry / CONFIG).write_text(json.dumps({**record, "key": "0" * 16}))
    with pytest.raises(ValueError, match="corrupt|expected"):
        load_digit_classifier(entry, expect_key=first.record["key"])
    lines: list[str] = []
    again = cached_digit_classifier(*fake, settings=TINY, cache_dir=tmp_path, log=lines.append)
    assert any("unusable" in line for line in lines) and any("training" in line for line in lines)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    assert load_digit_classifier(entry, expect_key=first.record["key"]).record["key"] == first.record["key"]


def test_an_unwritable_cache_still_gives_a_classifier(fake, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    lines: list[str] = []
    model = cached_digit_classifier(*fake, settings=TINY, cache_dir=blocker, log=lines.append)
    assert model.record["path"] is None and any("could not cache" in line for line in lines)


def test_load_refuses_a_missing_entry(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing config.json"):
        load_digit_classifier(tmp_path)


# ----------------------------------------------------------------------------- the report card


def test_report_card_has_the_sample_quality_section(fake, tiny_classifier, tmp_path):
    from conftest import TinyGenerator
    from genprior.evaluation.report import DIGITS_FIGURE, EvaluationSettings, write_report
    from genprior.evaluation.report_text import render_report

    train, _, test, _ = fake
    settings = EvaluationSettings.quick(n=6, emd_n=40, mem_n=40, off_n=3, max_iter=3, restarts=1,
                                        n_projections=20, lipschitz_paths=3)
    models = {"bars": BarGenerator(), "noise": TinyGenerator(latent_dim=3, n=28)}
    metrics = write_report(models, test, tmp_path / "with", train=train, settings=settings,
                           data_info={"dataset": "mnist"}, classifier=tiny_classifier)
    assert metrics["reference"]["digits"]["n"] == 40 and metrics["reference"]["digits"]["confident_share"] > 0.9
    assert metrics["models"]["bars"]["digits"]["n"] == 40 and "digits" in metrics["models"]["bars"]["timings"]
    assert metrics["digits"]["classifier"]["test_accuracy"] >= 0.95
    assert (tmp_path / "with" / DIGITS_FIGURE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / "with" / "report.md").read_text()
    assert "## Sample quality (MNIST digit classifier)" in report and f"]({DIGITS_FIGURE})" in report
    assert "| test set (reference) |" in report and "| `bars` |" in report
    assert "Sample quality (MNIST) | samples classified with p >= 0.9" in report
    # without a classifier: one line instead of the section, no rows in the main table
    for m in metrics["models"].values():
        del m["digits"], m["timings"]["digits"]
    del metrics["reference"]["digits"], metrics["figures"]["digits"]
    metrics["digits"] = {"classifier": None, "note": "the data set is shapes, not MNIST"}
    report = render_report(metrics)
    assert "Sample quality (digit classifier): not computed; the data set is shapes, not MNIST." in report
    assert "Sample quality (MNIST)" not in report and "digits" not in report


def test_cli_scores_samples_on_mnist_only(fake, tmp_path, monkeypatch):
    from cli_runner import run_cli
    from genprior.data.io import save_dataset
    from genprior.evaluation.digits import classifier_for_data

    monkeypatch.setenv("GENPRIOR_DATA", str(tmp_path / "cache"))
    train, train_labels, test, test_labels = fake
    save_dataset(tmp_path / "mnist.npz", train=train.numpy(), test=test.numpy(), meta={"dataset": "mnist"},
                 extras={"train_labels": train_labels.numpy(), "test_labels": test_labels.numpy()})
    save_dataset(tmp_path / "other.npz", train=train.numpy(), test=test.numpy(), meta={"dataset": "blobs"})
    save_dataset(tmp_path / "unlabelled.npz", train=train.numpy(), test=test.numpy(), meta={"dataset": "mnist"})
    assert run_cli(["train", "vae", "--data", str(tmp_path / "mnist.npz"), "--latent-dim", "3", "--steps", "3",
                    "--batch-size", "16", "--out", str(tmp_path / "vae"), "--quiet"]) == 0
    small = ["--n", "5", "--emd-n", "30", "--mem-n", "30", "--off-n", "2", "--max-iter", "3", "--restarts", "1",
             "--quick", "--sliced-only"]
    assert run_cli(["evaluate", str(tmp_path / "vae"), "--data", str(tmp_path / "mnist.npz"),
                    "--out", str(tmp_path / "r1"), *small]) == 0
    metrics = json.loads((tmp_path / "r1" / "metrics.json").read_text())
    assert metrics["models"]["vae"]["digits"]["n"] == 30 and metrics["reference"]["digits"]["n"] == 30
    assert metrics["digits"]["classifier"]["path"].startswith(str(tmp_path / "cache" / "digit-classifier"))
    assert (tmp_path / "r1" / "digits.png").exists()
    # other data, or MNIST without labels: no classifier, and the reason (the report says it in one line)
    assert classifier_for_data(tmp_path / "other.npz", "blobs") == (None, "the data set is blobs, not MNIST")
    clf, note = classifier_for_data(tmp_path / "unlabelled.npz", "mnist")
    assert clf is None and "no 'train_labels' array" in note


@pytest.mark.slow
def test_the_real_classifier_reaches_98_5_percent_on_mnist(tmp_path):
    """Trains the default classifier on the 60,000 MNIST training images (about a minute per core)."""
    from genprior.data.mnist import mnist_dataset

    d = mnist_dataset()
    data = [torch.from_numpy(np.asarray(a)) for a in (d.train, d.train_labels, d.test, d.test_labels)]
    start = time.perf_counter()
    model = cached_digit_classifier(*data, cache_dir=tmp_path, log=print)
    print(f"test accuracy {100 * model.record['test_accuracy']:.2f}%, {time.perf_counter() - start:.0f} s "
          f"with {torch.get_num_threads()} threads")
    assert model.record["test_accuracy"] >= 0.985
    ref = digit_quality(data[2], model)
    assert ref.confident_share > 0.95 and ref.min_share > 0.08 and ref.inception_score > 9
