"""The MNIST digit classifier of the report card: training time, test accuracy, and its scores.

Run:  .venv/bin/python benchmarks/bench_digits.py [--data runs/data/mnist.npz]
      [--model runs/mnist-vae-8 --model runs/mnist-gan-8 ...] [--n 10000] [--record]

Trains the default :class:`~genprior.evaluation.digit_classifier.ClassifierSettings`
classifier from scratch on the 60,000 MNIST training images (into a temporary cache,
so the user's cache is neither used nor touched), measures its test accuracy and the
time to load it back from the cache, then scores the 10,000 test images (the reference)
and ``--n`` samples ``G(z)``, ``z ~ N(0, I)`` (seed 0) of each ``--model``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchlib import machine, record


def describe(path: str, g) -> str:
    """``kind, latent d, N steps (how it stopped, seconds)`` from the checkpoint's config."""
    c = getattr(g, "checkpoint_config", {}) or {}
    m, t = c.get("model", {}), c.get("training", {})
    steps = t.get("steps_done", t.get("steps"))
    how = " (stopped by --max-seconds)" if t.get("stopped") == "max_seconds" else ""
    secs = f", {t['seconds']:.0f} s" if t.get("seconds") else ""
    return f"`{path}`: {m.get('kind')} ({m.get('preset')}), latent {g.latent_dim}, {steps} steps{how}{secs}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="runs/data/mnist.npz")
    parser.add_argument("--model", action="append", default=[], help="MNIST generator checkpoint (repeatable)")
    parser.add_argument("--n", type=int, default=10_000, help="samples scored per model")
    parser.add_argument("--record", action="store_true", help="write into benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    import torch

    from genprior.data.io import load_images, load_labels
    from genprior.evaluation.digit_classifier import (
        ClassifierSettings,
        cached_digit_classifier,
        load_digit_classifier,
        n_parameters,
    )
    from genprior.evaluation.digits import digit_quality, digit_sample_quality
    from genprior.models.checkpoint import load_model

    where = machine()
    train, test = load_images(args.data, "train"), load_images(args.data, "test")
    train_labels = torch.as_tensor(load_labels(args.data, "train"))
    test_labels = torch.as_tensor(load_labels(args.data, "test"))
    s = ClassifierSettings()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        clf = cached_digit_classifier(train, train_labels, test, test_labels, settings=s, cache_dir=tmp, log=print)
        first = time.perf_counter() - start
        start = time.perf_counter()
        cached_digit_classifier(train, train_labels, test, test_labels, settings=s, cache_dir=tmp)
        again = time.perf_counter() - start
        start = time.perf_counter()
        load_digit_classifier(Path(tmp) / clf.record["key"])
        load_only = time.perf_counter() - start
    rec = clf.record

    rows = []
    start = time.perf_counter()
    rows.append(("MNIST test set (reference)", digit_quality(test, clf), time.perf_counter() - start))
    notes = []
    for path in args.model:
        g = load_model(path)
        start = time.perf_counter()
        rows.append((f"`{Path(path).name}`", digit_sample_quality(g, n=args.n, seed=0, classifier=clf),
                     time.perf_counter() - start))
        notes.append("- " + describe(path, g))
        print(rows[-1])

    table = ["| images | N | p >= 0.9 | mean max p | smallest share (digit) | TV to uniform | IS | "
             "shares of 0-9 (%) | seconds |", "|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for name, q, secs in rows:
        table.append(f"| {name} | {q.n:,} | {100 * q.confident_share:.1f}% | {q.mean_confidence:.3f} | "
                     f"{100 * q.min_share:.1f}% ({q.min_digit}) | {q.tv_uniform:.3f} | {q.inception_score:.2f} | "
                     + " ".join(f"{100 * v:.0f}" for v in q.shares) + f" | {secs:.1f} |")
    flags = "".join(f" --model {m}" for m in args.model)
    flags += f" --data {args.data}" if args.data != parser.get_default("data") else ""
    flags += f" --n {args.n}" if args.n != parser.get_default("n") else ""
    section = "\n".join([
        "## MNIST digit classifier: accuracy, training time and sample-quality scores (bench_digits)",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_digits.py{flags} --record` ({time.strftime('%Y-%m-%d')})  ",
        f"Machine: {where}",
        "",
        f"Classifier ({n_parameters(clf):,} parameters; conv {s.channels[0]} -> conv {s.channels[1]} -> dense "
        f"{s.hidden}; Adam lr {s.lr:g} with cosine decay, batch {s.batch_size}, {s.epochs} epochs, seed {s.seed}) "
        f"trained on {rec['n_train']:,} images: **test accuracy {100 * rec['test_accuracy']:.2f}%** on "
        f"{rec['n_test']:,} test images; training {rec['train_seconds']:.0f} s, first call in all (hashing the "
        f"data, training, accuracy, saving) {first:.0f} s; a later call (hash + load from the cache) "
        f"{again:.1f} s, of which loading {1000 * load_only:.0f} ms.",
        "",
        "Scores (`genprior evaluate` shows the same for MNIST data, on `--emd-n` images; samples z ~ N(0, I), "
        "seed 0):",
        "",
        "\n".join(table),
        *([""] + notes if notes else []),
    ])
    print(section)
    if args.record:
        print(f"\nrecorded in {record('bench_digits', section)}", file=sys.stderr)


if __name__ == "__main__":
    main()
