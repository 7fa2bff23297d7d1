"""The command that repeats a reconstruction run (genprior.experiments.repeat) and ``reconstruct --noise-seed``."""

from __future__ import annotations

import json
import shlex

import pytest
import torch

from cli_runner import run_cli
from genprior.errors import InputError
from genprior.experiments.repeat import command_line, format_indices, method_flags, reconstruct_argv


def test_indices_are_a_range_where_contiguous_else_a_list():
    assert format_indices([5, 6, 7]) == "5:8"
    assert format_indices([3]) == "3:4"
    assert format_indices([0, 2, 3]) == "0,2,3"
    with pytest.raises(InputError, match="empty"):
        format_indices([])


def test_every_parameter_is_spelled_out_and_floats_parse_back_exactly():
    params = {"lam": 0.1 + 0.2, "mu": 1e-7, "init": "encoder", "x_init": "generator", "seed": 4}
    words = method_flags("relaxed", params)
    flags = dict(zip(words[::2], words[1::2]))
    assert float(flags["--lam"]) == 0.1 + 0.2 and float(flags["--mu"]) == 1e-7
    assert words[:4] == ["--lam", flags["--lam"], "--mu", flags["--mu"]]  # the weights first
    # the defaults too, so that a later version's defaults cannot change the command
    assert flags["--coordinates"] == "u" and flags["--solver"] == "auto" and flags["--restarts"] == "1"
    assert flags["--init"] == "encoder" and flags["--x-init"] == "generator" and flags["--seed"] == "4"
    assert flags["--max-iter"] == "3000" and flags["--latent-prior"] == "l2"


def test_a_tensor_parameter_cannot_be_written_as_a_command():
    with pytest.raises(InputError, match="x_init"):
        method_flags("tikhonov", {"lam": 0.2, "x_init": "tensor"})
    with pytest.raises(InputError, match="lam"):
        method_flags("tv", {"lam": torch.tensor([0.1, 0.2])})


def test_the_command_line_is_quoted_for_a_shell():
    argv = reconstruct_argv("tv", {"lam": 0.05}, problem="tomography", data="my data/d.npz", indices=[1, 2],
                            noise=0.1, noise_seed=7, out="out dir/r.json")
    line = command_line(argv)
    assert shlex.split(line) == ["genprior", *argv]
    assert "'my data/d.npz'" in line and "--noise-seed 7" in line and "--model" not in argv


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from genprior.data.io import save_dataset
    from genprior.data.shapes import shapes_dataset

    path = tmp_path_factory.mktemp("repeat") / "shapes.npz"
    save_dataset(path, test=shapes_dataset(0, 3, seed=1)[1])
    return path


def test_noise_seed_draws_the_noise_apart_from_the_starts(images, tmp_path):
    """``--seed 3 --noise-seed 5``: the noise from seed 5, Tikhonov's random start from seed 3."""
    import genprior as gp
    from genprior.data.io import load_images
    from genprior.metrics import psnr

    out = tmp_path / "r.json"
    assert run_cli(["reconstruct", "--method", "tikhonov", "--data", str(images), "--indices", "0:3", "--lam", "0.2",
                    "--max-iter", "10", "--seed", "3", "--noise-seed", "5", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["seed"] == 5 and res["params"]["seed"] == 3
    truth = load_images(images)
    A = gp.operator("tomography", 56)
    expected = gp.solve("tikhonov", A, gp.measure(A, truth, noise=0.1, seed=5), lam=0.2, max_iter=10, seed=3)
    assert [r["psnr"] for r in res["per_image"]] == pytest.approx(psnr(expected.x, truth).tolist(), abs=1e-4)
    swapped = gp.solve("tikhonov", A, gp.measure(A, truth, noise=0.1, seed=3), lam=0.2, max_iter=10, seed=5)
    assert [r["psnr"] for r in res["per_image"]] != pytest.approx(psnr(swapped.x, truth).tolist(), abs=1e-4)


@pytest.mark.parametrize("value", ["-1", str(2**63)])
def test_a_bad_noise_seed_is_one_error_line(images, tmp_path, capsys, value):
    assert run_cli(["reconstruct", "--method", "tv", "--data", str(images), "--noise-seed", value,
                    "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "--noise-seed" in err
    assert not (tmp_path / "r.json").exists()
