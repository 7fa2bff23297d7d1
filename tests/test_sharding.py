"""Sharding images across torchrun processes: the merged result equals a single-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cli_runner import run_cli
from genprior.parallel import Shard, shard_from_env


def test_shards_partition_the_images(monkeypatch):
    for n in (0, 1, 5, 100):
        for world in (1, 2, 3, 8):
            rows = [r for rank in range(world) for r in Shard(rank, world).rows(n)]
            assert rows == list(range(n))
            sizes = [len(Shard(rank, world).rows(n)) for rank in range(world)]
            assert max(sizes) - min(sizes) <= 1
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert shard_from_env() == Shard(2, 4) and not Shard(2, 4).is_main
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert shard_from_env() == Shard(2, 4, local_rank=1)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError, match="invalid RANK=4 for WORLD_SIZE=4"):
        shard_from_env()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    d = tmp_path_factory.mktemp("shard")
    assert run_cli(["data", "shapes", "--n", "100", "--n-test", "6", "--seed", "3", "--out", str(d / "shapes.npz")]) == 0
    assert run_cli(["train", "vae", "--data", str(d / "shapes.npz"), "--latent-dim", "4", "--steps", "10",
                    "--batch-size", "16", "--out", str(d / "model"), "--quiet"]) == 0
    return d


def test_two_processes_equal_one(workspace):
    # relaxed with random z and random x starts and 2 restarts: every random draw must be
    # made for all images before the images are split, or the shards would differ.
    args = ["reconstruct", "--method", "relaxed", "--model", str(workspace / "model"), "--data",
            str(workspace / "shapes.npz"), "--indices", "0:5", "--noise", "0.1", "--seed", "4", "--lam", "0.4",
            "--mu", "0.1", "--restarts", "2", "--max-iter", "8"]
    single = workspace / "single.json"
    assert run_cli([*args, "--out", str(single)]) == 0
    merged = workspace / "merged.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "genprior", *args, "--out", str(merged)], env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = json.loads(single.read_text()), json.loads(merged.read_text())
    assert b["processes"] == 2 and b["n_images"] == a["n_images"] == 5
    assert [r["index"] for r in b["per_image"]] == [0, 1, 2, 3, 4]
    for ra, rb in zip(a["per_image"], b["per_image"]):
        assert rb["psnr"] == pytest.approx(ra["psnr"], abs=1e-3)
        assert rb["final_objective"] == pytest.approx(ra["final_objective"], rel=1e-4)
        assert rb["iterations"] == ra["iterations"]
        assert rb["chosen_start"] == ra["chosen_start"]
    assert b["params"] == a["params"]
    assert "2 processes" in proc.stdout


def test_tune_with_two_processes_equals_one(workspace):
    args = ["tune", "--method", "hard", "--model", str(workspace / "model"), "--data", str(workspace / "shapes.npz"),
            "--tune-indices", "0:3", "--test-indices", "3:6", "--grid", "lam=0.1,0.001", "--max-iter", "6",
            "--seed", "2"]
    single = workspace / "tune1.json"
    assert run_cli([*args, "--out", str(single)]) == 0
    merged = workspace / "tune2.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "genprior", *args, "--out", str(merged)], env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = json.loads(single.read_text()), json.loads(merged.read_text())
    assert b["chosen"] == a["chosen"]
    for ra, rb in zip(a["tuning"]["table"], b["tuning"]["table"]):
        assert rb["psnr"] == pytest.approx(ra["psnr"], abs=1e-3)
        assert rb["residual"] == pytest.approx(ra["residual"], rel=1e-5)
    assert [r["psnr"] for r in b["test"]["per_image"]] == pytest.approx([r["psnr"] for r in a["test"]["per_image"]],
                                                                         abs=1e-3)
    assert b["test"]["processes"] == 2
