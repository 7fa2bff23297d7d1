"""The training loop under torchrun: 2 CPU processes (gloo) stay in lock step.

Each rank starts from *different* random weights (DistributedDataParallel must broadcast
rank 0's), trains on its half of every batch, and writes its final weights; the ranks
must agree bit for bit, and the AE (no noise) must match a single-process run on the
whole batch up to rounding.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from genprior.data.io import save_dataset
from genprior.models import create_model
from genprior.training.loop import TrainConfig, train

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is unavailable")

SCRIPT = textwrap.dedent('''
    import sys
    from pathlib import Path

    import genprior
    import torch
    import torch.distributed as dist
    from safetensors.torch import save_file

    from genprior.models import create_model
    from genprior.training.loop import TrainConfig, train

    out = Path(sys.argv[1])
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    images = torch.rand(64, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    for kind in ("ae", "gan"):
        torch.manual_seed(rank)  # different weights on each rank at the start
        model = create_model(kind, latent_dim=3, image_size=16)
        config = TrainConfig(steps=6, batch_size=8, lr=1e-3, checkpoint_every=3, sample_every=None)
        train(model, images, out / kind, config, progress=False)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(out / f"{kind}-rank{rank}.safetensors"))
    dist.destroy_process_group()
''')


def torchrun(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", "2",
           *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def test_two_gloo_ranks_agree_and_match_one_process(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    done = torchrun(str(script), str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    for kind in ("ae", "gan"):
        r0 = load_file(str(tmp_path / f"{kind}-rank0.safetensors"))
        r1 = load_file(str(tmp_path / f"{kind}-rank1.safetensors"))
        assert all(torch.equal(r0[k], r1[k]) for k in r0), f"{kind}: the ranks disagree"
        training = json.loads((tmp_path / kind / "config.json").read_text())["training"]
        assert training["world_size"] == 2 and training["steps_done"] == 6
        assert torch.equal(load_file(str(tmp_path / kind / "model.safetensors"))["decoder.0.weight"],
                           r0["decoder.0.weight"])
    # the AE has no noise: two half batches with averaged gradients = one whole batch
    torch.manual_seed(0)
    single = create_model("ae", latent_dim=3, image_size=16)
    images = torch.rand(64, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    train(single, images, tmp_path / "single", TrainConfig(steps=6, batch_size=8, lr=1e-3, sample_every=None),
          progress=False)
    r0 = load_file(str(tmp_path / "ae-rank0.safetensors"))
    for k, v in single.state_dict().items():
        torch.testing.assert_close(r0[k], v, atol=1e-5, rtol=1e-4)


def test_cli_under_torchrun(tmp_path):
    data = tmp_path / "data.npz"
    rng = np.random.default_rng(0)
    save_dataset(data, train=rng.random((64, 1, 16, 16), dtype=np.float32), meta={"dataset": "toy"})
    out = tmp_path / "run"
    done = torchrun("-m", "genprior", "train", "vae", "--data", str(data), "--out", str(out), "--latent-dim", "2",
                    "--steps", "4", "--batch-size", "8", "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("trained VAE to step 4 of 4") == 1  # rank 0 reports
    training = json.loads((out / "config.json").read_text())["training"]
    assert training["world_size"] == 2 and training["steps_done"] == 4
    odd = torchrun("-m", "genprior", "train", "vae", "--data", str(data), "--out", str(tmp_path / "odd"),
                   "--steps", "1", "--batch-size", "7", "--quiet")
    assert odd.returncode != 0 and "must be divisible by the number of processes 2" in odd.stderr
