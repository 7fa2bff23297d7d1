"""The front door: ``import genprior as gp`` and the few calls a script needs."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import genprior as gp


def test_import_genprior_does_not_load_torch():
    code = "import sys, genprior; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_reconstruction_through_the_front_door(tiny_generator):
    A = gp.operator("tomography", 16)
    with torch.no_grad():
        x = tiny_generator(torch.zeros(2, 3))
    y = gp.measure(A, x, noise=0.01, seed=0)
    result = gp.solve("hard", A, y, tiny_generator, lam=1e-4, init="random", restarts=2)
    assert result.x.shape == x.shape and result.n_converged == 2
    assert torch.all(gp.psnr(result.x, x) > 25)
    assert set(gp.METHODS) >= {"hard", "relaxed", "sparse", "tv", "tikhonov"} and "tomography" in gp.PROBLEMS
    assert isinstance(A, gp.LinearPhysics)


def test_front_door_errors_are_clear():
    A = gp.operator("denoising", 8)
    with pytest.raises(ValueError, match="needs a generator"):
        gp.solve("hard", A, torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="method"):
        gp.solve("magic", A, torch.zeros(1, 1, 8, 8))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gp.nope  # noqa: B018
