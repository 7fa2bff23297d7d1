"""Fuzz suite (Hypothesis): random bad data files, configs, option values and checkpoint bytes.

Every example must end as exactly one ``error:`` line with exit status 2 (or a
``ValueError`` / ``FileNotFoundError`` from the library), or as a correct result: never a
traceback, a hang (an alarm fails an example that runs too long) or a changed input
file.  The example counts are bounded (``EXAMPLES``) so the suite stays fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_runner import run_cli
from genprior.data.io import load_images, save_dataset

EXAMPLES = int(os.environ.get("GENPRIOR_FUZZ_EXAMPLES", "30"))  # raise it for a deeper search
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SECONDS = 30  # one example running longer than this counts as a hang


@contextlib.contextmanager
def no_hang(seconds: int = SECONDS):
    def alarm(*_):
        raise AssertionError(f"an example ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def digest(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def cli(args: list[str]) -> tuple[int, str]:
    """Exit status and stderr of ``genprior ARGS`` in-process; asserts the error contract."""
    err = io.StringIO()
    with no_hang(), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = run_cli(args)
    text = err.getvalue()
    assert "Traceback" not in text, text
    assert code in (0, 2), (code, text)
    if code == 2:
        assert sum(line.startswith("error:") for line in text.splitlines()) == 1 or "Usage:" in text, text
    return code, text


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(0)
    save_dataset(d / "data.npz", train=rng.random((40, 1, 16, 16), dtype=np.float32),
                 test=rng.random((4, 1, 16, 16), dtype=np.float32), meta={"dataset": "toy"})
    assert run_cli(["train", "ae", "--data", str(d / "data.npz"), "--out", str(d / "model"), "--latent-dim", "3",
                    "--steps", "4", "--batch-size", "8", "--sample-every", "100000", "--quiet"]) == 0
    return d


# ---- data files ------------------------------------------------------------------------------

DTYPES = st.sampled_from(["uint8", "int16", "int64", "float16", "float32", "float64", "bool", "complex64", "U3"])
SHAPES = st.lists(st.integers(0, 5), min_size=0, max_size=5).map(tuple)
VALUES = st.sampled_from([0.0, 0.5, 1.0, -1.0, 255.0, float("nan"), float("inf"), 1e30])


@st.composite
def data_files(draw) -> dict:
    """Arrays for an .npz: random dtypes, shapes, values, names, meta (sometimes valid)."""
    arrays = {}
    for name in draw(st.lists(st.sampled_from(["train", "test", "meta", "extra", "train_labels"]), max_size=4,
                              unique=True)):
        if name == "meta":
            arrays[name] = np.array(draw(st.sampled_from(['{"dataset": "x"}', "[1, 2]", "not json", "{}", "3"])))
            continue
        shape = draw(st.one_of(SHAPES, st.tuples(st.integers(0, 4), st.just(1), st.integers(1, 9),
                                                 st.integers(1, 9))))
        dtype = draw(DTYPES)
        fill = draw(VALUES)
        base = np.random.default_rng(draw(st.integers(0, 99))).random(shape) * draw(st.sampled_from([1, 255, -1]))
        if draw(st.booleans()) and base.size:
            base.flat[0] = fill
        with np.errstate(all="ignore"):
            arrays[name] = base.astype(dtype) if dtype != "U3" else base.astype(str).astype("U3")
    return arrays


def damage(raw: bytes, cuts: list[tuple[int, int]]) -> bytes:
    body = bytearray(raw)
    for pos, value in cuts:
        if body:
            body[pos % len(body)] = value
    return bytes(body)


@FUZZ
@given(arrays=data_files(), cuts=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3),
       truncate=st.one_of(st.none(), st.integers(0, 2000)), split=st.sampled_from(["train", "test"]))
def test_random_data_files_load_or_fail_cleanly(arrays, cuts, truncate, split):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.npz"
        np.savez_compressed(path, **arrays) if arrays else path.write_bytes(b"")
        raw = damage(path.read_bytes(), cuts)
        path.write_bytes(raw[:truncate] if truncate is not None else raw)
        before = digest(path)
        with no_hang():
            try:
                x = load_images(path, split)
            except (ValueError, FileNotFoundError):
                pass
            else:
                assert x.dtype == torch.float32 and x.dim() == 4 and x.shape[0] >= 1 and x.shape[1] == 1
                assert bool(torch.isfinite(x).all()) and float(x.min()) >= 0 and float(x.max()) <= 1
        code, _ = cli(["reconstruct", "--method", "tikhonov", "--data", str(path), "--split", split, "--indices",
                       "0:1", "--max-iter", "2", "--problem", "denoising", "--out", str(Path(tmp) / "r.json")])
        assert digest(path) == before


# ---- option values ---------------------------------------------------------------------------

NUMBERS = st.sampled_from(["0", "-1", "1", "2", "3", "0.5", "1e9", "nan", "inf", "-inf", "abc", "", "999", "10**9",
                           "0:2", "1,2", "3:1", "99999999999999999999"])


@FUZZ
@given(method=st.sampled_from(["tv", "tikhonov", "hard", "relaxed", "magic"]),
       problem=st.sampled_from(["tomography", "deconvolution", "cs", "inpainting", "denoising", "sparse-view", "x"]),
       options=st.dictionaries(st.sampled_from(["--lam", "--mu", "--indices", "--kernel-size", "--restarts",
                                                "--noise", "--max-iter", "--measurements", "--keep", "--angles",
                                                "--lam-grid", "--max-batch", "--kernel-width", "--x-steps",
                                                "--seed", "--split"]), NUMBERS, max_size=4))
def test_random_reconstruct_options_end_as_results_or_errors(ws, method, problem, options):
    out = Path(tempfile.mkdtemp()) / "r.json"
    before = digest(ws / "data.npz"), digest(ws / "model")
    args = ["reconstruct", "--method", method, "--problem", problem, "--data", str(ws / "data.npz"), "--model",
            str(ws / "model"), "--out", str(out), "--indices", "0:2", "--max-iter", "3"]
    for flag, value in options.items():
        args += [flag, value]
    code, err = cli(args)
    if code == 0:
        result = json.loads(out.read_text())
        assert result["method"] == method and result["n_images"] >= 1
    assert (digest(ws / "data.npz"), digest(ws / "model")) == before
    shutil.rmtree(out.parent)


@FUZZ
@given(grid=st.lists(st.sampled_from(["lam=0.1", "lam=0", "lam=1:0.5:0.1", "lam=1:2:0.1", "mu=0.1,0.2", "lam=",
                                      "lam=1:0.99999:1e-9", "lam=-1", "lam=nan", "x=1", "lam=1,inf"]), max_size=2),
       method=st.sampled_from(["tv", "tikhonov"]), criterion=st.sampled_from(["psnr", "discrepancy", "nope"]))
def test_random_tune_grids_end_as_results_or_errors(ws, grid, method, criterion):
    out = Path(tempfile.mkdtemp()) / "t.json"
    args = ["tune", "--method", method, "--data", str(ws / "data.npz"), "--out", str(out), "--tune-indices", "0:2",
            "--test-indices", "2:3", "--max-iter", "2", "--criterion", criterion, "--problem", "denoising"]
    for g in grid:
        args += ["--grid", g]
    code, _ = cli(args)
    if code == 0:
        assert json.loads(out.read_text())["method"] == method
    shutil.rmtree(out.parent)


# ---- configs and checkpoint bytes ------------------------------------------------------------

JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                              st.text(max_size=5)),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=8)


@FUZZ
@given(model=st.fixed_dictionaries({}, optional={"kind": st.sampled_from(["ae", "vae", "gan", "x", 3]),
                                                 "latent_dim": st.one_of(st.integers(-3, 10**10), JSON),
                                                 "image_size": st.one_of(st.integers(-3, 10**7), JSON),
                                                 "preset": st.sampled_from(["compact", "paper", None]),
                                                 "kl_weight": JSON, "extra": JSON}),
       top=st.one_of(st.none(), JSON), weights=st.sampled_from(["keep", "random", "truncate", "empty"]),
       noise=st.binary(max_size=64))
def test_random_configs_and_checkpoint_bytes_load_or_fail_cleanly(ws, model, top, weights, noise):
    from genprior.models.checkpoint import load_model

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "model"
        shutil.copytree(ws / "model", ckpt)
        config = json.loads((ckpt / "config.json").read_text())
        config = top if top is not None and not isinstance(top, dict) else {**config, "model": model}
        (ckpt / "config.json").write_text(json.dumps(config))
        w = ckpt / "model.safetensors"
        if weights == "random":
            w.write_bytes(noise)
        elif weights == "truncate":
            w.write_bytes(w.read_bytes()[: len(noise) * 10])
        elif weights == "empty":
            w.write_bytes(b"")
        before = digest(ckpt)
        with no_hang():
            try:
                g = load_model(ckpt)
            except (ValueError, FileNotFoundError):
                pass
            else:
                assert isinstance(g, torch.nn.Module)
        cli(["reconstruct", "--method", "hard", "--model", str(ckpt), "--data", str(ws / "data.npz"), "--indices",
             "0:1", "--max-iter", "2", "--out", str(Path(tmp) / "r.json")])
        assert digest(ckpt) == before


@settings(max_examples=max(1, EXAMPLES // 2), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(options=st.dictionaries(st.sampled_from(["--latent-dim", "--steps", "--batch-size", "--lr", "--seed",
                                                "--max-seconds", "--log-every", "--schedule", "--preset",
                                                "--kl-weight", "--checkpoint-every"]),
                               st.sampled_from(["0", "-1", "1", "2", "nan", "inf", "x", "1e9", "cosine", "paper"]),
                               max_size=3))
def test_random_train_options_end_as_runs_or_errors(ws, options):
    out = Path(tempfile.mkdtemp()) / "run"
    args = ["train", "vae", "--data", str(ws / "data.npz"), "--out", str(out), "--steps", "2", "--batch-size", "4",
            "--latent-dim", "2", "--sample-every", "100000", "--max-seconds", "5", "--quiet"]
    for flag, value in options.items():
        args += [flag, value]
    before = digest(ws / "data.npz")
    code, _ = cli(args)
    if code == 0:
        assert (out / "model.safetensors").is_file()
    assert digest(ws / "data.npz") == before
    shutil.rmtree(out.parent)
