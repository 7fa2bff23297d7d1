"""Nothing a user owns is clobbered, bad inputs are one-line errors, sizes are bounded (issue 12).

One test (or a few) per class of defect: outputs that are devices, links, directories or
inputs; existing outputs and run directories; two writers on one run; a kill during
``--force``; data outside [0, 1]; a resume on other data; oversized requests; parameters
the maths forbids; damaged files; overlapping splits.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from cli_runner import run_cli
from genprior.data.io import save_dataset

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def error_of(args: list[str], capsys) -> str:
    """The one ``error:`` line of a failing command (asserting exit status 2 and no traceback)."""
    capsys.readouterr()
    assert run_cli(args) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def train_args(data: Path, out: Path, *extra: str, steps: int = 10) -> list[str]:
    return ["train", "ae", "--data", str(data), "--out", str(out), "--latent-dim", "3", "--steps", str(steps),
            "--batch-size", "8", "--checkpoint-every", "5", "--sample-every", "100000", "--quiet", *extra]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """Toy data (16x16), a second data file, and a tiny trained AE."""
    d = tmp_path_factory.mktemp("safety")
    rng = np.random.default_rng(0)
    save_dataset(d / "data.npz", train=rng.random((64, 1, 16, 16), dtype=np.float32),
                 test=rng.random((6, 1, 16, 16), dtype=np.float32), meta={"dataset": "toy"})
    save_dataset(d / "other.npz", train=rng.random((64, 1, 16, 16), dtype=np.float32),
                 test=rng.random((6, 1, 16, 16), dtype=np.float32), meta={"dataset": "toy"})
    assert run_cli(train_args(d / "data.npz", d / "model")) == 0
    return d


def reconstruct(ws: Path, out: Path, *extra: str) -> list[str]:
    return ["reconstruct", "--method", "tikhonov", "--data", str(ws / "data.npz"), "--indices", "0:2",
            "--max-iter", "3", "--out", str(out), *extra]


# ---- outputs ---------------------------------------------------------------------------------

def special_file(path: Path) -> str:
    """A character device (as /dev/null) where mknod is permitted, else a FIFO."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        return "character device"
    except (PermissionError, OSError):
        os.mkfifo(path)
        return "FIFO"


def test_device_node_as_out_is_refused_and_left_alone(ws, tmp_path, capsys):
    node, npz = tmp_path / "node.json", tmp_path / "node.npz"
    kind = special_file(node)
    special_file(npz)
    word = "device" if kind == "character device" else "FIFO"
    assert word in error_of(reconstruct(ws, node, "--force"), capsys)
    assert word in error_of(["data", "shapes", "--n", "4", "--n-test", "1", "--out", str(npz), "--force"], capsys)
    assert word in error_of(["data", "shapes", "--n", "4", "--n-test", "1", "--out", str(npz)], capsys)
    for path in (node, npz):
        mode = os.lstat(path).st_mode
        assert stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def test_symlink_as_out_is_refused_and_its_target_unchanged(ws, tmp_path, capsys):
    target = tmp_path / "precious.json"
    target.write_text("mine")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert "symbolic link" in error_of(reconstruct(ws, link, "--force"), capsys)
    assert link.is_symlink() and target.read_text() == "mine"
    assert "symbolic link" in error_of(train_args(ws / "data.npz", link), capsys)


def test_the_input_data_file_as_out_is_refused(ws, capsys):
    before = digest(ws / "data.npz")
    assert "also an input" in error_of(reconstruct(ws, ws / "data.npz", "--force"), capsys)
    assert "also an input" in error_of(["data", "rescale", "--src", str(ws / "data.npz"), "--out",
                                        str(ws / "data.npz"), "--force"], capsys)
    assert digest(ws / "data.npz") == before


def test_bad_out_locations_fail_before_the_solve(ws, tmp_path, capsys, monkeypatch):
    import genprior.experiments.reconstruction as rec

    def boom(*a, **k):
        raise AssertionError("the solve ran")

    monkeypatch.setattr(rec, "run_reconstruction", boom)
    (tmp_path / "file").write_text("x")
    assert "is a directory" in error_of(reconstruct(ws, tmp_path), capsys)
    assert "not a directory" in error_of(reconstruct(ws, tmp_path / "file" / "r.json"), capsys)
    assert "is a directory" in error_of(reconstruct(ws, tmp_path / "r.json", "--figure", str(tmp_path)), capsys)


def test_existing_outputs_need_force(ws, tmp_path, capsys):
    out = tmp_path / "r.json"
    stale = tmp_path / ".r.json.tmp-999999999-abc.json"  # left by a killed write (pid 999999999 cannot exist)
    stale.write_bytes(b"")
    assert run_cli(reconstruct(ws, out)) == 0
    assert not stale.exists()
    first = out.read_text()
    assert "already exists; pass --force" in error_of(reconstruct(ws, out, "--noise", "0.2"), capsys)
    assert out.read_text() == first
    assert run_cli(reconstruct(ws, out, "--noise", "0.2", "--force")) == 0
    assert json.loads(out.read_text())["noise"] == 0.2
    npz = tmp_path / "s.npz"
    assert run_cli(["data", "shapes", "--n", "4", "--n-test", "1", "--out", str(npz)]) == 0
    before = digest(npz)
    assert "already exists" in error_of(["data", "shapes", "--n", "5", "--n-test", "1", "--out", str(npz)], capsys)
    assert digest(npz) == before


def test_train_keeps_a_users_files_without_force(ws, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "losses.csv").write_text("my numbers")
    assert "files of a training run (losses.csv)" in error_of(train_args(ws / "data.npz", out), capsys)
    assert (out / "losses.csv").read_text() == "my numbers"
    (out / "notes.txt").write_text("keep me")
    assert "would delete them" in error_of(train_args(ws / "data.npz", out, "--force"), capsys)
    assert (out / "notes.txt").read_text() == "keep me"


# ---- run directories: locks, --force, leftovers ---------------------------------------------

def test_run_lock_refuses_a_second_writer_and_takes_over_a_stale_lock(tmp_path):
    from genprior.outputs import RunLock

    run = tmp_path / "run"
    with RunLock(run):
        with pytest.raises(ValueError, match=f"being written by process {os.getpid()}"):
            RunLock(run).acquire()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = RunLock(run)
    lock.path.write_text(dead.stdout)  # a lock file left by a process that has exited
    (run).mkdir(exist_ok=True)
    leftover = run / f".samples.png.tmp-{dead.stdout.strip()}-x.png"
    leftover.write_bytes(b"")
    (run / "samples").mkdir()
    grid = run / "samples" / f".step-000010.png.tmp-{dead.stdout.strip()}-y.png"
    grid.write_bytes(b"")
    mine = run / f".losses.csv.tmp-{os.getpid()}-z.csv"  # a live writer's temporary stays
    mine.write_bytes(b"")
    with lock:
        assert lock.path.read_text().strip() == str(os.getpid())
        assert not leftover.exists() and not grid.exists()  # a killed writer's zero-byte temporaries go
        assert mine.exists()
    assert not lock.path.exists()


def test_run_lock_without_flock_trusts_the_pid(tmp_path, monkeypatch):
    import errno
    import fcntl

    from genprior.outputs import RunLock

    def no_flock(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)  # file systems without flock
    run = tmp_path / "run"
    RunLock(run).acquire().release()
    lock = RunLock(run)
    lock.path.write_text(f"{os.getppid()}\n")  # a live process holds it
    with pytest.raises(ValueError, match=f"being written by process {os.getppid()}"):
        lock.acquire()


def test_replaced_directory_recovers_a_swap_killed_between_renames(tmp_path):
    from genprior.outputs import ReplacedDirectory

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    run = tmp_path / "run"
    old, staging = tmp_path / f".run.replaced-{dead}-ab12", tmp_path / f".run.replacing-{dead}-cd34"
    old.mkdir()
    (old / "model.safetensors").write_text("old")
    staging.mkdir()
    ReplacedDirectory(run).recover()
    assert (run / "model.safetensors").read_text() == "old" and not staging.exists() and not old.exists()


def wait_for_glob(folder: Path, pattern: str, proc: subprocess.Popen, seconds: float = 90) -> Path:
    deadline = time.monotonic() + seconds
    while not (found := sorted(folder.glob(pattern))):
        if proc.poll() is not None:
            raise AssertionError(f"the process ended early: {proc.stderr.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{pattern} did not appear in {folder}")
        time.sleep(0.01)
    return found[0]


def test_concurrent_training_and_a_kill_during_force_keep_the_old_run(ws, tmp_path, capsys):
    run = tmp_path / "run"
    assert run_cli(train_args(ws / "data.npz", run)) == 0
    old = {name: digest(run / name) for name in ("model.safetensors", "config.json", "losses.csv")}
    cmd = [sys.executable, "-m", "genprior", *train_args(ws / "data.npz", run, "--force", steps=1_000_000)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    try:
        wait_for_glob(tmp_path, ".run.replacing-*/training-state/LATEST", proc)
        # a second writer on the same directory gets a clear error while the first runs
        assert "being written by process" in error_of(train_args(ws / "data.npz", run, "--resume"), capsys)
        assert "being written by process" in error_of(train_args(ws / "data.npz", run, "--force"), capsys)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert {name: digest(run / name) for name in old} == old  # the kill left the old run intact
    # the dead writer's lock is taken over; its staging folder is cleaned up
    assert run_cli(train_args(ws / "data.npz", run, "--force", "--seed", "3")) == 0
    assert digest(run / "model.safetensors") != old["model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


# ---- data ------------------------------------------------------------------------------------

def test_uint8_data_is_refused_with_a_hint_and_rescaled_on_request(tmp_path, capsys):
    from genprior.data.io import load_images

    raw = tmp_path / "u8.npz"
    images = np.random.default_rng(1).integers(0, 256, (40, 1, 16, 16), dtype=np.uint8)
    np.savez(raw, train=images, test=images[:4], meta=np.array("{}"))
    err = error_of(train_args(raw, tmp_path / "run"), capsys)
    assert "outside [0, 1]" in err and "rescale" in err
    assert "outside [0, 1]" in error_of(["reconstruct", "--method", "tv", "--data", str(raw), "--out",
                                         str(tmp_path / "r.json")], capsys)
    fixed = tmp_path / "fixed.npz"
    assert run_cli(["data", "rescale", "--src", str(raw), "--out", str(fixed)]) == 0
    x = load_images(fixed, "train")
    assert torch.allclose(x, torch.from_numpy(images.astype(np.float32) / 255))
    np.savez(raw, train=-images.astype(np.float32), test=images[:4], meta=np.array("{}"))
    assert "not integers" in error_of(["data", "rescale", "--src", str(raw), "--out", str(tmp_path / "n.npz")],
                                      capsys)  # --mode dtype needs integers
    assert run_cli(["data", "rescale", "--src", str(raw), "--out", str(tmp_path / "n.npz"), "--mode",
                    "minmax"]) == 0


def test_resume_on_other_data_is_refused_and_overlapping_splits_warn(ws, tmp_path, capsys):
    run = tmp_path / "run"
    assert run_cli(train_args(ws / "data.npz", run)) == 0
    err = error_of(train_args(ws / "other.npz", run, "--resume", steps=20), capsys)
    assert "differ from those the run started with" in err
    overlap = tmp_path / "overlap.npz"
    train = np.random.default_rng(2).random((32, 1, 16, 16), dtype=np.float32)
    save_dataset(overlap, train=train, test=train[:3])
    assert run_cli(train_args(overlap, tmp_path / "run2", steps=2)) == 0
    assert "warning: 3 of 3 test images" in capsys.readouterr().err


def test_memorisation_says_the_splits_overlap_instead_of_dividing_by_zero():
    from genprior.data.io import count_duplicates
    from genprior.evaluation.distances import memorisation

    g = torch.Generator().manual_seed(0)
    train = torch.rand(20, 1, 8, 8, generator=g)
    test = torch.cat([train[:6], torch.rand(2, 1, 8, 8, generator=g)])
    m = memorisation(torch.rand(10, 1, 8, 8, generator=g), train, test)
    assert m["median_ratio"] is None and m["test_copies_in_train"] == 6
    assert count_duplicates(train, test) == 6


def test_a_corrupt_compressed_npz_is_an_error(ws, tmp_path, capsys):
    from genprior.data.io import load_images

    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("train.npy", b"\x93NUMPY" + os.urandom(4000))
    body = bytearray(bad.read_bytes())
    body[60:400] = os.urandom(340)  # damage the deflate stream itself (zlib.error or a CRC failure)
    bad.write_bytes(bytes(body))
    with pytest.raises(ValueError):
        load_images(bad, "train")
    assert error_of(["reconstruct", "--method", "tv", "--data", str(bad), "--split", "train", "--out",
                     str(tmp_path / "r.json")], capsys).startswith("error:")


def test_a_config_json_with_wrong_types_is_an_error(ws, tmp_path, capsys):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(ws / "model", model)
    config = json.loads((model / "config.json").read_text())

    def with_model(**changes):
        return {**config, "model": {**config["model"], **changes}}

    # each broken config and what its one error line must say: the field and the problem
    cases = [
        ({**config, "model": [1, 2]}, "config.json: the 'model' entry must be a JSON object, got list"),
        ({**config, "training": []}, "config.json: the 'training' entry must be a JSON object, got list"),
        ([config], "config.json: not a genprior checkpoint config (no format/model entries)"),
        (with_model(image_size=10**6), "a model with image_size 1,000,000 needs about"),
        (with_model(latent_dim=10**9), "a model with latent_dim 1,000,000,000 needs about"),
        (with_model(latent_dim="3"), "latent_dim must be >= 1 (an integer), got '3'"),
        (with_model(latent_dim=3.5), "latent_dim must be >= 1 (an integer), got 3.5"),
        (with_model(latent_dim=True), "latent_dim must be >= 1 (an integer), got True"),
        (with_model(image_size="16"), "image_size must be an integer >= 8, got '16'"),
        (with_model(kind=5), "a model kind is a name, got 5"),
        (with_model(preset=["compact"]), "unknown preset ['compact']"),
    ]
    for broken, expected in cases:
        (model / "config.json").write_text(json.dumps(broken))
        err = error_of(["reconstruct", "--method", "hard", "--model", str(model), "--data", str(ws / "data.npz"),
                        "--out", str(tmp_path / "r.json")], capsys)
        assert expected in err, (broken, err)


# ---- sizes and parameters --------------------------------------------------------------------

def test_oversized_requests_fail_fast(ws, tmp_path, capsys, monkeypatch):
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    out = str(tmp_path / "r.json")
    base = ["reconstruct", "--data", str(ws / "data.npz"), "--out", out]
    assert "larger than the 16 x 16 images" in error_of(
        [*base, "--method", "tv", "--problem", "deconvolution", "--kernel-size", "999"], capsys)
    assert "exceeds --max-batch" in error_of([*base, "--method", "hard", "--model", str(ws / "model"),
                                              "--restarts", "100000"], capsys)
    assert "more than the limit of 10,000" in error_of([*base, "--method", "tv", "--lam", "auto", "--lam-grid",
                                                        "1:0.9999999:1e-300"], capsys)
    assert "more than the limit" in error_of(["tune", "--method", "tv", "--data", str(ws / "data.npz"), "--out", out,
                                              "--grid", "lam=1:0.999999:1e-10", "--tune-indices", "0:2",
                                              "--test-indices", "2:4"], capsys)
    assert "more than the 256 pixels of 16 x 16 images" in error_of(
        [*base, "--method", "tv", "--problem", "cs", "--measurements", "1000000000"], capsys)
    monkeypatch.setenv("GENPRIOR_MAX_MEMORY_GB", "0.0001")
    assert "compressed-sensing matrix needs about" in error_of(
        [*base, "--method", "tv", "--problem", "cs", "--measurements", "256"], capsys)
    err = error_of([*base, "--method", "hard", "--model", str(ws / "model"), "--indices", "0:6", "--restarts",
                    "4000"], capsys)
    assert "GENPRIOR_MAX_MEMORY_GB" in err
    assert time.perf_counter() - started < 20
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # kB: nothing large was allocated


def test_large_runs_are_solved_in_chunks_of_max_batch(ws, tmp_path):
    outs = []
    for max_batch in ("2", "4096"):
        out = tmp_path / f"r{max_batch}.json"
        assert run_cli(["reconstruct", "--method", "hard", "--model", str(ws / "model"), "--data",
                        str(ws / "data.npz"), "--indices", "0:5", "--restarts", "2", "--max-iter", "3",
                        "--max-batch", max_batch, "--out", str(out)]) == 0
        outs.append(json.loads(out.read_text()))
    assert [r["psnr"] for r in outs[0]["per_image"]] == pytest.approx([r["psnr"] for r in outs[1]["per_image"]],
                                                                       abs=1e-3)


def test_parameters_the_maths_forbids_are_errors_in_values_and_grids(ws, tmp_path, capsys):
    base = ["--data", str(ws / "data.npz"), "--out", str(tmp_path / "r.json")]
    assert "lam > 0" in error_of(["reconstruct", "--method", "tv", "--lam", "0", *base], capsys)
    assert "lam > 0" in error_of(["reconstruct", "--method", "tv", "--lam", "auto", "--lam-grid", "0.1,0", *base],
                                 capsys)
    assert "lam > 0" in error_of(["tune", "--method", "tv", "--grid", "lam=0,0.1", "--tune-indices", "0:2",
                                  "--test-indices", "2:4", *base], capsys)
    assert "finite" in error_of(["reconstruct", "--method", "tikhonov", "--lam", "inf", *base], capsys)
    assert "--max-iter must be >= 1" in error_of(["reconstruct", "--method", "tv", "--max-iter", "0", *base], capsys)
    assert "--latent-dim must be >= 1 (an integer)" in error_of(
        train_args(ws / "data.npz", tmp_path / "run", "--latent-dim", "0") + [], capsys)
