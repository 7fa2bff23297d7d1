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


# ---- training states -------------------------------------------------------------------------

STATE_KEYS = st.sampled_from(["step", "seconds", "history", "resumed_at", "data_sha256", "optimisers", "scaler",
                              "train", "model", "train.steps", "train.lr", "train.seed", "train.batch_size",
                              "model.latent_dim", "model.kind"])


@FUZZ
@given(changes=st.lists(st.tuples(STATE_KEYS, JSON), max_size=3), drop=st.lists(STATE_KEYS, max_size=2),
       optimiser_bytes=st.one_of(st.none(), st.binary(max_size=64)))
def test_random_training_states_resume_or_fail_cleanly(ws, changes, drop, optimiser_bytes):
    from genprior.models.checkpoint import build_model
    from genprior.training import state
    from genprior.training.config import TrainConfig

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        shutil.copytree(ws / "model", run)
        folder = state.latest_state(run)
        record = json.loads((folder / state.STATE).read_text())
        for key, value in changes:
            outer, _, inner = key.partition(".")
            if inner and isinstance(record.get(outer), dict):
                record[outer][inner] = value
            elif not inner:
                record[outer] = value
        for key in drop:
            outer, _, inner = key.partition(".")
            (record.get(outer) if inner and isinstance(record.get(outer), dict) else record).pop(inner or outer, None)
        (folder / state.STATE).write_text(json.dumps(record))
        if optimiser_bytes is not None:
            (folder / state.OPTIMISERS).write_bytes(optimiser_bytes)
        model = build_model(json.loads((ws / "model" / "config.json").read_text())["model"])
        with no_hang():
            readable = True
            try:
                state.read_state(folder)
            except (ValueError, FileNotFoundError):
                readable = False
            try:
                info = state.load_state(folder, model, model.configure_optimisers(1e-3, None))
            except (ValueError, FileNotFoundError):
                pass
            else:  # what loads is consistent: the step it resumes from is one the run could have reached
                assert isinstance(info["step"], int) and 0 <= info["step"] <= TrainConfig(**info["train"]).steps
                assert folder.name == f"step-{info['step']:09d}"
        if readable:  # the command line goes on to rebuild the model from the state and train
            code, _ = cli(["train", "ae", "--data", str(ws / "data.npz"), "--out", str(run), "--resume", "--steps",
                           "6", "--quiet"])
            if code == 0:
                assert json.loads((run / "config.json").read_text())["training"]["steps_done"] >= 4


# ---- model configs and their weights ---------------------------------------------------------

@FUZZ
@given(edits=st.lists(st.tuples(st.sampled_from(["drop", "extra", "dtype", "reshape"]), st.integers(0, 50),
                                st.sampled_from([torch.float64, torch.float16, torch.int64, torch.bfloat16])),
                      max_size=3),
       config=st.fixed_dictionaries({}, optional={"latent_dim": st.one_of(st.integers(-2, 10**30), JSON),
                                                  "image_size": st.one_of(st.integers(-2, 10**30), JSON),
                                                  "width": st.one_of(st.integers(-2, 10**30), JSON)}))
def test_random_weights_and_model_configs_load_or_fail_in_one_line(ws, edits, config, monkeypatch):
    from safetensors.torch import load_file, save_file

    from genprior.models.checkpoint import load_model

    monkeypatch.setenv("GENPRIOR_MAX_MEMORY_GB", "0.05")  # a config asking for a big model is refused, not built

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "model"
        shutil.copytree(ws / "model", ckpt, ignore=shutil.ignore_patterns("training-state", "samples*"))
        top = json.loads((ckpt / "config.json").read_text())
        top["model"].update(config)
        (ckpt / "config.json").write_text(json.dumps(top))
        weights = load_file(str(ckpt / "model.safetensors"))
        for what, index, dtype in edits:
            key = sorted(weights)[index % len(weights)]
            if what == "drop":
                weights.pop(key)
            elif what == "extra":
                weights[f"{key}.extra"] = torch.zeros(2)
            elif what == "dtype":
                weights[key] = weights[key].to(dtype)
            else:
                weights[key] = weights[key].reshape(-1)[:max(1, weights[key].numel() - 1)].clone()
            if not weights:
                break
        save_file(weights, str(ckpt / "model.safetensors"))
        with no_hang():
            try:
                g = load_model(ckpt)
            except (ValueError, FileNotFoundError) as exc:
                assert "\n" not in str(exc), str(exc)  # one line, never a PyTorch dump
            else:
                expected = {k: v.dtype for k, v in g.state_dict().items()}
                assert all(weights[k].dtype == dtype for k, dtype in expected.items())


# ---- the image-folder importer ---------------------------------------------------------------

@st.composite
def image_files(draw) -> tuple[str, bytes]:
    """One file for an image folder: a real PNG/NPY of random size and type, a forged or damaged one."""
    from PIL import Image

    kind = draw(st.sampled_from(["png", "npy", "garbage", "truncated", "forged"]))
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    buf = io.BytesIO()
    if kind in ("png", "truncated"):
        mode = draw(st.sampled_from(["L", "RGB", "I;16", "1", "F", "LA"]))
        array = np.random.default_rng(draw(st.integers(0, 9))).random((h, w))
        image = Image.fromarray((array * 255).astype(np.uint8)).convert(mode)
        image.save(buf, format="TIFF" if mode == "F" else "PNG")
        body = buf.getvalue()
        return ("f.tif" if mode == "F" else "f.png"), body[: len(body) // 2] if kind == "truncated" else body
    if kind == "npy":
        dtype = draw(st.sampled_from(["uint8", "uint16", "float32", "float64", "bool", "int64", "complex64", "U2",
                                      "object"]))
        shape = draw(st.sampled_from([(h, w), (1, h, w), (h, w, 1), (h,), (2, h, w), (0, w)]))
        value = np.full(shape, draw(VALUES)) if dtype not in ("U2", "object", "bool") else np.zeros(shape)
        with np.errstate(all="ignore"):
            np.save(buf, value.astype(dtype), allow_pickle=True)
        return "f.npy", buf.getvalue()
    if kind == "forged":  # a header declaring a huge image with almost no data
        side = draw(st.sampled_from([10**4, 10**5, 2**31 - 1]))
        if draw(st.booleans()):
            np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (side, side)})
            return "f.npy", buf.getvalue()
        import struct
        import zlib

        def chunk(tag: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

        return "f.png", (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                         + chunk(b"IDAT", zlib.compress(b"\0" * 32)) + chunk(b"IEND", b""))
    return draw(st.sampled_from(["f.png", "f.jpg", "f.npy"])), draw(st.binary(max_size=64))


@FUZZ
@given(files=st.lists(image_files(), min_size=1, max_size=3), size=st.sampled_from([None, 1, 2, 8, 10**6]),
       rescale=st.sampled_from(["minmax", "range"]))
def test_random_image_folders_import_or_fail_cleanly(files, size, rescale, monkeypatch):
    from genprior.data.images import load_image_folder

    monkeypatch.setenv("GENPRIOR_MAX_MEMORY_GB", "0.5")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, body) in enumerate(files):
            (Path(tmp) / f"{i}{name}").write_bytes(body)
        with no_hang():
            try:
                images, names = load_image_folder(tmp, size, rescale)
            except (ValueError, FileNotFoundError):
                pass
            else:
                assert images.dtype == np.float32 and images.ndim == 4 and images.shape[1] == 1
                assert images.shape[2] == images.shape[3] and (size is None or images.shape[2] == size)
                assert np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1
                assert len(names) == images.shape[0]
