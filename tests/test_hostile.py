"""Misuse by a careless or hostile user (issue 27): one test per class of defect.

Locks and temporary names that cannot be turned against anyone, ``--force`` that deletes
only what a run wrote, every file under an input protected, outputs claimed atomically
at the end, runs that always end (bounded counts, FIFO inputs, a stale distributed
environment), sizes checked before any work, no traceback and no silent acceptance,
validation before work, and one line that names the flag for every refusal.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from cli_runner import run_cli
from genprior.data.io import save_dataset
from genprior.errors import InputError


def error_of(args: list[str], capsys) -> str:
    """The one ``error:`` line of a failing command (exit status 2, no traceback)."""
    capsys.readouterr()
    assert run_cli(args) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "ae", "--data", str(data), "--out", str(out), "--latent-dim", "3", "--steps", "4",
            "--batch-size", "8", "--checkpoint-every", "2", "--sample-every", "100000", "--quiet", *extra]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """Toy 16 x 16 data and a tiny trained AE (``model``)."""
    d = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    save_dataset(d / "data.npz", train=rng.random((32, 1, 16, 16), dtype=np.float32),
                 test=rng.random((4, 1, 16, 16), dtype=np.float32), meta={"dataset": "toy"})
    assert run_cli(train_args(d / "data.npz", d / "model")) == 0
    return d


def dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)


@pytest.fixture
def alarm():
    """Fail (instead of hanging the suite) if the test blocks for more than 60 s."""
    def ring(*_):
        raise AssertionError("blocked for 60 s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


# ---- locks and temporary names ----------------------------------------------------------------

def test_a_planted_lock_is_refused_and_its_target_untouched(ws, tmp_path, capsys):
    from genprior.outputs import RunLock

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    run = tmp_path / "run"
    lock = RunLock(run).path
    lock.symlink_to(victim)
    assert "symbolic link" in error_of(train_args(ws / "data.npz", run), capsys)
    for verb in (["evaluate", str(ws / "model"), "--data", str(ws / "data.npz"), "--out", str(run), "--quick"],
                 ["paper", "--out", str(run), "--quick"], ["demo", "--out", str(run), "--quick"]):
        assert "not a lock genprior made" in error_of(verb, capsys)
    assert lock.is_symlink() and victim.read_text() == "precious" and not run.exists()
    lock.unlink()
    os.link(victim, lock)  # a hard link to someone's file
    with pytest.raises(InputError, match="2 hard links"):
        RunLock(run).acquire()
    lock.unlink()
    lock.write_text("#!/bin/sh\nmy script\n")  # a file that is not a pid
    with pytest.raises(InputError, match="other contents"):
        RunLock(run).acquire()
    assert lock.read_text() == "#!/bin/sh\nmy script\n" and victim.read_text() == "precious"
    lock.unlink()
    os.mkfifo(lock)
    with pytest.raises(InputError, match="not a regular file"):
        RunLock(run).acquire()


def test_force_deletes_only_what_a_run_wrote(ws, tmp_path, capsys):
    run = tmp_path / "run"
    assert run_cli(train_args(ws / "data.npz", run)) == 0
    (run / ".git").mkdir()
    (run / ".git" / "HEAD").write_text("ref")
    (run / ".notes").write_text("mine")
    (run / "samples" / "sketch.txt").write_text("mine too")
    err = error_of(train_args(ws / "data.npz", run, "--force"), capsys)
    assert ".git/" in err and ".notes" in err and "samples/sketch.txt" in err and "would delete them" in err
    assert (run / ".git" / "HEAD").read_text() == "ref" and (run / ".notes").read_text() == "mine"
    for name in (".git", ".notes", "samples/sketch.txt"):
        shutil.rmtree(run / name) if (run / name).is_dir() else (run / name).unlink()
    # folders whose names look like genprior's staging names are a user's: never taken, never deleted
    mine = [tmp_path / ".run.replacing", tmp_path / ".run.replaced", tmp_path / f".run.replacing-{dead_pid()}"]
    for folder in mine:
        folder.mkdir()
        (folder / "keep.txt").write_text("keep")
    assert run_cli(train_args(ws / "data.npz", run, "--force", "--seed", "1")) == 0
    assert all((folder / "keep.txt").read_text() == "keep" for folder in mine)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["run", *(f.name for f in mine)])


def test_a_replaced_run_that_gained_user_files_is_kept(tmp_path):
    from genprior.outputs import ReplacedDirectory
    from genprior.training.rundir import foreign_files

    run = tmp_path / "run"
    run.mkdir()
    (run / "losses.csv").write_text("old")
    with pytest.warns(UserWarning, match="kept as"):
        with ReplacedDirectory(run, foreign_files) as staging:
            (staging / "losses.csv").write_text("new")
            (run / "notes.txt").write_text("written during the run")
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("run.old-")]
    assert (run / "losses.csv").read_text() == "new" and len(kept) == 1
    assert (kept[0] / "notes.txt").read_text() == "written during the run"


def test_a_symlinked_folder_inside_a_run_is_refused_on_resume(ws, tmp_path, capsys):
    run, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    assert run_cli(train_args(ws / "data.npz", run)) == 0
    elsewhere.mkdir()
    shutil.rmtree(run / "samples")
    (run / "samples").symlink_to(elsewhere)
    assert "symbolic link" in error_of(train_args(ws / "data.npz", run, "--resume"), capsys)
    assert list(elsewhere.iterdir()) == []


# ---- outputs: inputs, late appearances --------------------------------------------------------

def test_files_inside_an_input_directory_are_inputs(ws, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(ws / "model", model)
    before = (model / "config.json").read_bytes()
    base = ["reconstruct", "--method", "hard", "--model", str(model), "--data", str(ws / "data.npz"), "--force"]
    assert "an input of this command" in error_of([*base, "--out", str(model / "config.json")], capsys)
    assert "an input of this command" in error_of([*base, "--out", str(tmp_path / "r.json"), "--figure",
                                                    str(model / "samples" / "x.png")], capsys)
    link = tmp_path / "link"
    link.symlink_to(model)
    assert "an input of this command" in error_of([*base, "--out", str(link / "new.json")], capsys)
    assert "an input of this command" in error_of(
        ["evaluate", str(model), "--data", str(ws / "data.npz"), "--out", str(model / "report"), "--quick"], capsys)
    assert (model / "config.json").read_bytes() == before and not (model / "report").exists()


def test_an_output_that_appears_during_a_run_is_not_replaced(ws, tmp_path, capsys, monkeypatch):
    import genprior.experiments.reconstruction as rec
    from genprior.atomic import new_outputs, write_text_atomic

    target = tmp_path / "t.txt"
    with new_outputs(target):
        target.write_text("the user's")
        with pytest.raises(InputError, match="appeared while this command ran"):
            write_text_atomic(target, "genprior's")
    assert target.read_text() == "the user's"
    assert (tmp_path / f"t.new-{os.getpid()}.txt").read_text() == "genprior's"
    with new_outputs(target, replace=True):
        write_text_atomic(target, "replaced with force")
    assert target.read_text() == "replaced with force"

    out = tmp_path / "r.json"
    solve = rec.run_reconstruction

    def slow_solve(*args, **kwargs):  # another process writes --out while this one solves
        out.write_text("another run's")
        return solve(*args, **kwargs)

    monkeypatch.setattr(rec, "run_reconstruction", slow_solve)
    args = ["reconstruct", "--method", "tikhonov", "--data", str(ws / "data.npz"), "--indices", "0:1", "--max-iter",
            "2", "--out", str(out)]
    assert "appeared while this command ran" in error_of(args, capsys)
    assert out.read_text() == "another run's"
    assert run_cli([*args, "--force"]) == 0 and json.loads(out.read_text())["method"] == "tikhonov"


# ---- runs that always end ---------------------------------------------------------------------

def test_fifo_and_looping_link_inputs_are_refused_without_blocking(ws, tmp_path, capsys, alarm):
    fifo = tmp_path / "data.npz"
    os.mkfifo(fifo)
    base = ["reconstruct", "--method", "tv", "--out", str(tmp_path / "r.json")]
    assert "FIFO" in error_of([*base, "--data", str(fifo)], capsys)
    assert "FIFO" in error_of(train_args(fifo, tmp_path / "run"), capsys)
    model = tmp_path / "model"
    shutil.copytree(ws / "model", model)
    (model / "config.json").unlink()
    os.mkfifo(model / "config.json")
    assert "FIFO" in error_of([*base, "--data", str(ws / "data.npz"), "--method", "hard", "--model", str(model)],
                              capsys)
    (model / "model.safetensors").unlink()
    (model / "model.safetensors").symlink_to(model / "model.safetensors")
    assert "loops" in error_of([*base, "--data", str(ws / "data.npz"), "--method", "hard", "--model", str(model)],
                               capsys)
    (tmp_path / "gone.npz").symlink_to(tmp_path / "nowhere.npz")
    assert "broken symbolic link" in error_of([*base, "--data", str(tmp_path / "gone.npz")], capsys)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_stale_distributed_environment_fails_within_its_timeout(monkeypatch):
    from genprior.distributed import process_group

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(InputError, match="MASTER_ADDR and MASTER_PORT are not set"):
        with process_group("cpu"):
            pass
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    monkeypatch.setenv("GENPRIOR_DIST_TIMEOUT", "1")
    started = time.monotonic()
    with pytest.raises(InputError, match=r"did not join within 1 s \(WORLD_SIZE=2, RANK=0, .*MASTER_PORT="):
        with process_group("cpu"):
            pass
    assert time.monotonic() - started < 15
    monkeypatch.setenv("GENPRIOR_DIST_TIMEOUT", "soon")
    with pytest.raises(InputError, match="GENPRIOR_DIST_TIMEOUT must be a number"):
        with process_group("cpu"):
            pass


def test_counts_are_bounded_by_memory_before_any_work(ws, tmp_path, capsys):
    import genprior as gp

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    out = str(tmp_path / "r.json")
    err = error_of(["reconstruct", "--method", "tv", "--data", str(ws / "data.npz"), "--out", out, "--indices", "0:1",
                    "--max-iter", "100000000000", "--tol", "0"], capsys)
    assert "objective history" in err and "lower --max-iter" in err
    A = gp.operator("denoising", 16)
    y = gp.measure(A, torch.rand(2, 1, 16, 16), 0.1, 0)
    with pytest.raises(InputError, match="restarts"):
        gp.solve("hard", A, y, gp.load_model(ws / "model"), restarts=10**7)
    with pytest.raises(InputError, match="max_iter"):
        gp.solve("tikhonov", A, y, max_iter=10**12)
    err = error_of(train_args(ws / "data.npz", tmp_path / "run") + ["--steps", str(10**18)], capsys)
    assert "loss history" in err and "--log-every" in err
    err = error_of(train_args(ws / "data.npz", tmp_path / "run") + ["--steps", str(10**14), "--log-every",
                                                                    str(10**13), "--sample-every", "1"], capsys)
    assert "sample grids" in err and "free on the disk" in err
    assert "more than the 256 pixels" in error_of(["reconstruct", "--method", "tv", "--data", str(ws / "data.npz"),
                                                   "--out", out, "--problem", "cs", "--measurements", "257"], capsys)
    assert time.perf_counter() - started < 30
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 300_000  # kB: nothing large was allocated


# ---- sizes of the folder importer ----------------------------------------------------------

def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that declares ``width x height`` grey pixels but holds almost no data (a forged header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def test_the_folder_importer_checks_every_size_before_decoding(tmp_path, capsys, monkeypatch):
    from PIL import Image

    def folder(name: str) -> Path:
        (tmp_path / name).mkdir()
        return tmp_path / name

    bomb = folder("bomb")
    png_header_only(bomb / "a.png", 100_000, 100_000)
    huge = folder("huge")
    with open(huge / "a.npy", "wb") as fh:  # a header declaring 320 GB
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (200_000, 200_000)})
    real = folder("real")
    Image.fromarray(np.zeros((3000, 3000), np.uint8)).save(real / "big.png")  # 9 Mpixels, a few kB on disk
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(real / "small.png")
    objects = folder("objects")
    np.save(objects / "a.npy", np.array([{"x": 1}], dtype=object))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def run(src: Path, *extra: str) -> str:
        return error_of(["data", "folder", "--src", str(src), "--out", str(tmp_path / "o.npz"), *extra], capsys)

    assert "decompression bomb" in run(bomb, "--size", "8")
    assert "needs about" in run(huge)
    assert "--size" in run(real, "--size", "1")
    assert "needs about" in run(real, "--size", str(10**6)) and "smaller --size" in run(real, "--size", str(10**6))
    monkeypatch.setenv("GENPRIOR_MAX_MEMORY_GB", "0.1")  # 9 Mpixels decode to about 0.2 GB
    assert "big.png" in run(real, "--size", "8") and "GENPRIOR_MAX_MEMORY_GB" in run(real, "--size", "8")
    err = run(objects)
    assert "of object" in err and "allow" not in err
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 300_000  # kB
    assert not (tmp_path / "o.npz").exists()


# ---- tracebacks that were: full disk, tampered files, huge sizes --------------------------------

def test_a_full_disk_while_saving_weights_is_an_os_error(ws, tmp_path):
    from genprior.models.checkpoint import load_model, save_weights

    model = load_model(ws / "model")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, hard))  # files stop growing at 8 kB, as on a full disk
    try:
        with pytest.raises(OSError, match="cannot write .*File too large"):
            save_weights(model, tmp_path / "w.safetensors")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert list(tmp_path.iterdir()) == []  # no half-written file


def tamper(run: Path, change) -> None:
    latest = run / "training-state" / (run / "training-state" / "LATEST").read_text().strip()
    state = json.loads((latest / "state.json").read_text())
    change(state)
    (latest / "state.json").write_text(json.dumps(state))


@pytest.mark.parametrize("change, words", [
    (lambda s: s.update(step=-5), "not an integer >= 0"),
    (lambda s: s.update(step=10**15), "differs from its folder's name"),
    (lambda s: s.update(step="4"), "not an integer"),
    (lambda s: s["train"].update(steps=2), "beyond the 2 steps"),
    (lambda s: s["train"].update(bogus=1), "training settings do not fit"),
    (lambda s: s.update(history=[{"step": 99, "loss": 1.0}]), "loss history"),
    (lambda s: s.update(resumed_at="yes"), "resume points"),
    (lambda s: s["optimisers"]["model"].update(param_groups=7), "damaged state of the 'model' optimiser"),
])
def test_a_tampered_training_state_is_one_line(ws, tmp_path, capsys, change, words):
    run = tmp_path / "run"
    shutil.copytree(ws / "model", run)
    tamper(run, change)
    assert words in error_of(train_args(ws / "data.npz", run, "--resume") + ["--steps", "6"], capsys)


def test_a_tampered_optimiser_tensor_is_one_line(ws, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    run = tmp_path / "run"
    shutil.copytree(ws / "model", run)
    path = run / "training-state" / (run / "training-state" / "LATEST").read_text().strip() / "optimisers.safetensors"
    tensors = load_file(str(path))
    key = next(k for k, v in tensors.items() if v.dim() > 0)
    tensors[key] = torch.zeros(3, 3)
    save_file(tensors, str(path))
    assert "damaged optimiser state" in error_of(train_args(ws / "data.npz", run, "--resume") + ["--steps", "6"],
                                                 capsys)


def test_weights_of_another_dtype_or_architecture_are_refused_in_one_line(ws, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    model = tmp_path / "model"
    shutil.copytree(ws / "model", model)
    weights = load_file(str(model / "model.safetensors"))
    base = ["reconstruct", "--method", "hard", "--model", str(model), "--data", str(ws / "data.npz"), "--out",
            str(tmp_path / "r.json")]
    for dtype in (torch.float64, torch.int64):
        save_file({k: v.to(dtype) for k, v in weights.items()}, str(model / "model.safetensors"))
        assert f"holds {str(dtype)[6:]} tensors where the model has float32" in error_of(base, capsys)
    save_file(weights, str(model / "model.safetensors"))
    config = json.loads((model / "config.json").read_text())
    config["model"]["width"] = 8
    (model / "config.json").write_text(json.dumps(config))
    err = error_of(base, capsys)
    assert "do not fit the architecture" in err and "different models" in err and "size mismatch" not in err
    err = error_of(train_args(ws / "data.npz", tmp_path / "run", "--latent-dim", str(10**20)), capsys)
    assert "latent_dim" in err and "--latent-dim" in err


# ---- validation before work, and lines that name the flag --------------------------------------

def test_flags_are_validated_before_any_work(ws, tmp_path, capsys, monkeypatch):
    import genprior.experiments.reconstruction as rec

    def boom(*a, **k):
        raise AssertionError("the solve ran")

    monkeypatch.setattr(rec, "run_reconstruction", boom)
    base = ["reconstruct", "--method", "tv", "--data", str(ws / "data.npz"), "--out", str(tmp_path / "r.json")]
    assert "cannot write 'xyz' files" in error_of([*base, "--figure", str(tmp_path / "f.xyz")], capsys)
    assert not (tmp_path / "r.json").exists()
    if not torch.cuda.is_available():
        assert "CUDA is not available" in error_of(["paper", "--device", "cuda", "--quick", "--out",
                                                    str(tmp_path / "paper")], capsys)
        assert not (tmp_path / "paper").exists()
        from genprior.experiments.paper import run_paper

        with pytest.raises(InputError, match="CUDA is not available"):
            run_paper(["all"], tmp_path / "paper", quick=True, device="cuda")
        assert not (tmp_path / "paper").exists()


def test_every_refusal_names_the_flag_and_what_to_do(ws, tmp_path, capsys):
    import genprior as gp

    rng = np.random.default_rng(1)
    save_dataset(tmp_path / "wide.npz", train=rng.random((8, 1, 16, 12), dtype=np.float32),
                 test=rng.random((2, 1, 16, 12), dtype=np.float32))
    save_dataset(tmp_path / "tiny.npz", test=rng.random((2, 1, 4, 4), dtype=np.float32))
    with open(tmp_path / "pickle.npz", "wb") as fh:
        import pickle

        pickle.dump({"train": [1, 2]}, fh)
    out = str(tmp_path / "r.json")

    def err(*args: str, data: Path = ws / "data.npz") -> str:
        return error_of(["reconstruct", "--method", "tv", "--data", str(data), "--out", out, "--max-iter", "2",
                         *args], capsys)

    assert "--seed must be an integer from 0" in err("--seed", str(2**70))
    assert "--operator-seed must be an integer" in err("--problem", "cs", "--operator-seed", str(2**70))
    assert "--noise 1e+300 overflows" in err("--noise", "1e300")
    assert "--kernel-width 1e-300" in err("--problem", "deconvolution", "--kernel-width", "1e-300")
    assert "not square" in err(data=tmp_path / "wide.npz") and "--size" in err(data=tmp_path / "wide.npz")
    assert "smaller than the 7 x 7 window of SSIM" in err(data=tmp_path / "tiny.npz")
    pickled = err(data=tmp_path / "pickle.npz")
    assert "never loads" in pickled and "allow" not in pickled
    assert "--seed" in error_of(train_args(ws / "data.npz", tmp_path / "run", "--seed", str(2**70)), capsys)
    A = gp.operator("denoising", 16)
    y = gp.measure(A, torch.rand(2, 1, 16, 16), 0.1, 0)
    with pytest.raises(InputError, match="one value per image"):
        gp.solve("tv", A, y, lam=[0.1, 0.2])
    with pytest.raises(InputError, match=r"one value per image \(2\), got 3"):
        gp.solve("tikhonov", A, y, lam=torch.tensor([0.1, 0.2, 0.3]))
    with pytest.raises(InputError, match="holds 3 images but y holds 2"):
        gp.solve("tikhonov", A, y, x_init=torch.zeros(3, 1, 16, 16))
    with pytest.raises(InputError, match="seed"):
        gp.measure(A, torch.rand(1, 1, 16, 16), 0.1, 2**64)


def test_resume_keeps_working_after_the_checks(ws, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ws / "model", run)
    assert run_cli(train_args(ws / "data.npz", run, "--resume") + ["--steps", "6"]) == 0
    assert json.loads((run / "config.json").read_text())["training"]["steps_done"] == 6
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(run / "losses.csv").st_mode) == 0o666 & ~umask  # written via a private folder
