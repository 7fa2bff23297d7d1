"""Sharding images across torchrun processes: the merged result equals a one-process run bit for bit."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from cli_runner import run_cli
from genprior.distributed import Rank, from_environment, process_group


def test_ranks_own_whole_chunks(monkeypatch):
    for n in (0, 1, 5, 100):
        for world in (1, 2, 3, 8):
            for chunk in (1, 3, 32):
                owned = [Rank(rank, world).rows(n, chunk) for rank in range(world)]
                assert [r for rows in owned for r in rows] == list(range(n))
                assert all(rows.start % chunk == 0 for rows in owned if rows)
                counts = [-(-len(rows) // chunk) for rows in owned]
                assert max(counts) - min(counts) <= 1
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        Rank().rows(4, 0)
    assert torch.equal(Rank(1, 2).take(torch.arange(8)), torch.arange(4, 8))


def test_rank_from_environment(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert from_environment() == Rank(2, 4) and not Rank(2, 4).is_main
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert from_environment() == Rank(2, 4, local_rank=1)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError, match="invalid RANK=4 for WORLD_SIZE=4"):
        from_environment()
    monkeypatch.setenv("RANK", "two")
    with pytest.raises(ValueError, match="must be integers"):
        from_environment()
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    with process_group() as rank:  # one process: no group is created
        assert rank == Rank(local_rank=1) and not torch.distributed.is_initialized()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    d = tmp_path_factory.mktemp("shard")
    assert run_cli(["data", "shapes", "--n", "100", "--n-test", "16", "--seed", "3", "--out", str(d / "shapes.npz")]) == 0
    assert run_cli(["train", "vae", "--data", str(d / "shapes.npz"), "--latent-dim", "4", "--steps", "10",
                    "--batch-size", "16", "--out", str(d / "model"), "--quiet"]) == 0
    return d


def torchrun(args: list[str]) -> subprocess.CompletedProcess:
    """``genprior ARGS`` in 2 gloo processes (one thread each, torchrun's default)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "genprior", *args], env=env, capture_output=True, text=True, timeout=240)


def one_thread_cli(args: list[str]) -> int:
    """``genprior ARGS`` in this process with one thread, as each torchrun process has."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_cli(args)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("case", ["hard", "relaxed"])
def test_two_processes_equal_one_bit_for_bit(workspace, case):
    # hard: backtracking turns a last-bit difference into other step sizes and iteration
    # counts, so only equal chunks give equal records.  relaxed: random z and x starts
    # and 2 restarts, every random draw made for all images before they are split.
    # --max-batch 4 makes chunks of 4 (hard) or 2 (relaxed, 2 starts each) images, so
    # each rank solves several chunks.
    common = ["--model", str(workspace / "model"), "--data", str(workspace / "shapes.npz"), "--noise", "0.1",
              "--max-batch", "4"]
    args = {"hard": ["reconstruct", "--method", "hard", "--indices", "0:14", "--lam", "0.01", "--max-iter", "60",
                     *common],
            "relaxed": ["reconstruct", "--method", "relaxed", "--indices", "0:5", "--seed", "4", "--lam", "0.4",
                        "--mu", "0.1", "--restarts", "2", "--max-iter", "8", *common]}[case]
    single = workspace / f"single-{case}.json"
    assert one_thread_cli([*args, "--out", str(single)]) == 0
    merged = workspace / f"merged-{case}.json"
    proc = torchrun([*args, "--out", str(merged)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = json.loads(single.read_text()), json.loads(merged.read_text())
    assert b["processes"] == 2 and b["n_images"] == a["n_images"]
    assert [r["index"] for r in b["per_image"]] == [r["index"] for r in a["per_image"]]
    keys = ("psnr", "nrmse", "ssim", "iterations", "converged", "final_objective", "chosen_start")
    for ra, rb in zip(a["per_image"], b["per_image"]):
        assert {k: rb.get(k) for k in keys} == {k: ra.get(k) for k in keys}
    assert b["params"] == a["params"] and b["psnr"] == a["psnr"]
    assert "2 processes" in proc.stdout


def test_tune_with_two_processes_equals_one(workspace):
    args = ["tune", "--method", "hard", "--model", str(workspace / "model"), "--data", str(workspace / "shapes.npz"),
            "--tune-indices", "0:3", "--test-indices", "3:6", "--grid", "lam=0.1,0.001", "--max-iter", "6",
            "--seed", "2"]
    single = workspace / "tune1.json"
    assert run_cli([*args, "--out", str(single)]) == 0
    merged = workspace / "tune2.json"
    proc = torchrun([*args, "--out", str(merged)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = json.loads(single.read_text()), json.loads(merged.read_text())
    assert b["chosen"] == a["chosen"]
    for ra, rb in zip(a["tuning"]["table"], b["tuning"]["table"]):
        assert rb["psnr"] == pytest.approx(ra["psnr"], abs=1e-3)
        assert rb["residual"] == pytest.approx(ra["residual"], rel=1e-5)
    assert [r["psnr"] for r in b["test"]["per_image"]] == pytest.approx([r["psnr"] for r in a["test"]["per_image"]],
                                                                         abs=1e-3)
    assert b["test"]["processes"] == 2
