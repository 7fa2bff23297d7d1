"""A real training process killed mid-way (a real signal) and resumed ends with exactly the
weights of an uninterrupted run with the same seed.

The killed run is a subprocess; the resume and the reference run happen in this process
(a fresh load from disk all the same), all with one thread, so that the results can be
compared bit for bit and the test stays quick on a busy machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from genprior.cli import main
from genprior.data.io import save_dataset
from genprior.training.state import STATE_DIR

STEPS = {"ae": 300, "vae": 300, "gan": 200}  # a compact GAN step is 3 updates (2 critic, 1 generator)
EVERY = 10
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("resume") / "data.npz"
    rng = np.random.default_rng(1)
    save_dataset(path, train=rng.random((512, 1, 16, 16), dtype=np.float32),
                 test=rng.random((4, 1, 16, 16), dtype=np.float32), meta={"dataset": "toy"})
    return path


def args(kind: str, data: Path, out: Path, *extra: str, steps: int | None = None) -> list[str]:
    return ["train", kind, "--data", str(data), "--out", str(out), "--latent-dim", "3",
            "--steps", str(steps or STEPS[kind]), "--batch-size", "16", "--checkpoint-every", str(EVERY),
            "--log-every", "25", "--sample-every", "100000", "--seed", "7", "--quiet", *extra]


def subprocess_command(*a, **kw) -> list[str]:
    return [sys.executable, "-m", "genprior", *args(*a, **kw)]


def run_here(argv: list[str]) -> int:
    """``genprior ARGS`` in this process with one thread (as the subprocesses)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        torch.set_num_threads(threads)
    return 0


def saved_step(out: Path) -> int:
    try:
        return int((out / STATE_DIR / "LATEST").read_text().strip().split("-")[1])
    except (FileNotFoundError, IndexError, ValueError):
        return 0


def start_and_signal(cmd: list[str], out: Path, sig: int, after_step: int) -> tuple[int, int]:
    """Start ``cmd``, wait until a state of step >= ``after_step`` exists, send ``sig``.

    Returns the exit status and the step of the last complete state."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    deadline = time.monotonic() + 120
    while saved_step(out) < after_step:
        if proc.poll() is not None:
            raise AssertionError(f"training ended before it could be killed: {proc.stderr.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("no checkpoint appeared within 120 s")
        time.sleep(0.005)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    return proc.returncode, saved_step(out)


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "model.safetensors"))


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_sigkill_then_resume_matches_an_uninterrupted_run(kind, data, tmp_path):
    cut = tmp_path / "cut"
    code, step = start_and_signal(subprocess_command(kind, data, cut), cut, signal.SIGKILL, after_step=2 * EVERY)
    assert code == -signal.SIGKILL
    assert 2 * EVERY <= step < STEPS[kind] and step % EVERY == 0
    assert json.loads((cut / "config.json").read_text())["training"]["finished"] is False
    # it refuses to start over without --resume / --force
    assert run_here(args(kind, data, cut)) == 2
    assert run_here(args(kind, data, cut, "--resume")) == 0
    assert run_here(args(kind, data, tmp_path / "full")) == 0
    a, b = final_weights(cut), final_weights(tmp_path / "full")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    training = json.loads((cut / "config.json").read_text())["training"]
    assert training["steps_done"] == STEPS[kind] and training["finished"] and training["resumed_at"] == [step]
    steps = [int(line.split(",")[0]) for line in (cut / "losses.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps) and steps[-1] == STEPS[kind]


def test_sigterm_saves_the_current_step_and_exits_143(data, tmp_path):
    out = tmp_path / "run"
    code, step = start_and_signal(subprocess_command("ae", data, out), out, signal.SIGTERM, after_step=EVERY)
    assert code == 128 + signal.SIGTERM
    training = json.loads((out / "config.json").read_text())["training"]
    assert training["stopped"] == "signal" and training["steps_done"] == step >= EVERY
    assert run_here(args("ae", data, out, "--resume")) == 0
    assert run_here(args("ae", data, tmp_path / "full")) == 0
    a, b = final_weights(out), final_weights(tmp_path / "full")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_leftovers_of_a_killed_writer_do_not_break_resume(data, tmp_path):
    out = tmp_path / "run"
    assert run_here(args("ae", data, out, steps=30)) == 0
    stale = out / STATE_DIR / ".step-000000040.tmp-12345"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half a file")
    assert run_here(args("ae", data, out, "--resume", steps=40)) == 0
    assert not stale.exists()
    assert json.loads((out / "config.json").read_text())["training"]["steps_done"] == 40
