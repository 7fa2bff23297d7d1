"""Extending genprior: a new operator with an option, a new method with a parameter.

Each is one new module (written here to a temporary folder, as a user's file would be)
plus one registry line; their options then appear in ``genprior reconstruct --help``
and ``genprior tune --help`` and work, with no CLI code written.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import textwrap

import pytest
import torch

from cli_runner import run_script, user_folder
from genprior.cli.generated import Generated
from genprior.methods import METHODS, Method, check_param_values, get_method, within_bounds
from genprior.params import Params, param
from genprior.physics.problems import PROBLEMS, make_operator, problem_options

EXTENSION = textwrap.dedent('''
    """A toy operator (a circular shift, with its option) and a toy method (Landweber, with its step)."""
    from dataclasses import dataclass

    import torch

    from genprior.methods.common import param_record, per_image
    from genprior.methods.parameters import MethodParams
    from genprior.params import param
    from genprior.physics.operator import LinearOperator
    from genprior.physics.options import ProblemOptions
    from genprior.solvers.result import Result


    class Shift(LinearOperator):
        """``A x = x`` shifted circularly by ``shift`` pixels along the rows (norm 1, ``A^T`` shifts back)."""

        def __init__(self, image_size, shift):
            super().__init__((1, image_size, image_size), (1, image_size, image_size))
            self.shift = shift

        def _forward(self, x):
            return torch.roll(x, self.shift, dims=-1)

        def _adjoint(self, y):
            return torch.roll(y, -self.shift, dims=-1)


    @dataclass(frozen=True)
    class ShiftOptions(ProblemOptions):
        shift: int = param(1, "pixels the image is shifted by", minimum=0)

        def build(self, image_size):
            return Shift(image_size, self.shift)


    @dataclass(frozen=True)
    class LandweberParams(MethodParams):
        step: float | torch.Tensor = param(1.0, "Landweber step size (0 < step < 2 / ||A||^2)", above=0, maximum=2,
                            grid=(1.0, {0.25: 0.25, 0.5: 0.25}))
        max_iter: int = param(20, "iteration limit", minimum=1)


    def landweber(physics, y, generator=None, **params):
        """``x <- x + step A^T (y - A x)`` from zero, ``max_iter`` times."""
        p = LandweberParams.create(params, "method 'landweber'")
        x = torch.zeros_like(physics.A_adjoint(y))
        step = per_image(p.step, y.shape[0], "step", y).reshape(-1, 1, 1, 1)  # a grid is solved as one batch
        for _ in range(p.max_iter):
            x = x + step * physics.A_adjoint(y - physics.A(x))
        fit = (physics.A(x) - y).flatten(1).double().pow(2).sum(1)
        B = y.shape[0]
        return Result(x=x, z=None, u=None, iterations=torch.full((B,), p.max_iter), objective=fit[None],
                      converged=torch.ones(B, dtype=torch.bool), seconds=0.0,
                      params={"step": param_record(p.step)})
''')

# The registry lines (in genprior they go into PROBLEMS and METHODS; here a script adds them before the CLI loads).
REGISTER = """
import sys; sys.path.insert(0, {folder!r})
import toy_extension
from genprior.methods import METHODS, Method
from genprior.physics.problems import PROBLEMS

PROBLEMS["shift"] = toy_extension.ShiftOptions
METHODS["landweber"] = Method(toy_extension.landweber, toy_extension.LandweberParams)

from genprior.cli import main
main({args!r})
"""


@pytest.fixture(scope="module")
def extension(tmp_path_factory):
    return user_folder(tmp_path_factory.mktemp("ext"), "toy_extension", EXTENSION, (2, 1, 8, 8), (6, 1, 8, 8))


def _genprior(folder, args) -> subprocess.CompletedProcess:
    return run_script(REGISTER.format(folder=str(folder), args=args))


def test_a_registered_operator_and_method_get_their_cli_options_and_run(extension):
    helped = _genprior(extension, ["reconstruct", "--help"])
    assert helped.returncode == 0, helped.stderr
    text = " ".join(helped.stdout.split())
    assert "<tomography|sparse-view|limited-angle|cs|deconvolution|inpainting|denoising|shift>" in text
    assert "<hard|relaxed|sparse|sparse-tv|pgd|tikhonov|tv|landweber>" in text
    assert "--shift <int> Pixels the image is shifted by (shift; default 1)." in text
    assert "--step <float> Landweber step size (0 < step < 2 / ||A||^2) (landweber; default 1)." in text

    out = extension / "run.json"
    run = _genprior(extension, ["reconstruct", "--problem", "shift", "--shift", "3", "--method", "landweber",
                                "--step", "0.5", "--data", str(extension / "small.npz"), "--indices", "0:4",
                                "--noise", "0.0", "--out", str(out)])
    assert run.returncode == 0, run.stderr
    res = json.loads(out.read_text())
    assert res["problem"] == "shift" and res["params"]["step"] == 0.5 and res["psnr"]["mean"] > 40  # A invertible

    tuned = _genprior(extension, ["tune", "--problem", "shift", "--method", "landweber", "--data",
                                  str(extension / "small.npz"), "--tune-indices", "0:2", "--test-indices", "2:4",
                                  "--out", str(extension / "tune.json")])
    assert tuned.returncode == 0, tuned.stderr
    assert json.loads((extension / "tune.json").read_text())["grid"] == {"step": [1.0, 0.25]}  # 8x8 images: factor 0.25

    bad = _genprior(extension, ["reconstruct", "--problem", "shift", "--method", "landweber", "--step", "3", "--data",
                                str(extension / "small.npz"), "--out", str(extension / "bad.json")])
    assert bad.returncode == 2 and "--step must be in (0, 2]" in bad.stderr


@dataclasses.dataclass(frozen=True)
class _Scaled(Params):
    gain: float = param(2.0, "a gain", above=0)
    mode: str = param("a", "a mode", choices=("a", "b"))


def test_generated_options_list_choices_defaults_and_check_values_naming_flags():
    group = Generated("toy", {"one": _Scaled})
    params = {p.name: p for p in group.parameters()}
    assert set(params) == {"gain", "mode"}
    assert params["gain"].default.default is None  # every entry's own default applies
    assert "(default 2)" in params["gain"].default.help
    assert group.values("one", {"gain": 3.0, "mode": None}) == {"gain": 3.0}
    with pytest.raises(ValueError, match=r"--gain must be finite and > 0, got -1"):
        group.values("one", {"gain": -1.0})
    with pytest.raises(ValueError, match="unknown mode 'c'; choose one of: a, b"):
        _Scaled(mode="c")


def test_registries_hold_dataclasses_with_bounds_and_grids():
    assert problem_options("deconvolution") == ("kernel_size", "kernel_width")
    with pytest.raises(ValueError, match="unknown problem 'mri'; choose one of"):
        make_operator("mri", 8)
    with pytest.raises(ValueError, match="angle_range must look like 0:1.57"):
        make_operator("limited-angle", 8, angle_range="0-90")
    assert max(make_operator("limited-angle", 16, angle_range="0:90deg").geometry.angles) < torch.pi / 2 + 1e-6
    assert get_method("relaxed").tunable == ("lam", "mu") and get_method("tv").tunable == ("lam",)
    assert {name for name, m in METHODS.items() if m.needs_generator} == {"hard", "relaxed", "sparse", "sparse-tv",
                                                                           "pgd"}
    with pytest.raises(ValueError, match="TV needs lam > 0"):
        check_param_values("tv", {"lam": [0.1, 0.0]})
    assert within_bounds("tv", "lam", 0.1) and not within_bounds("tv", "lam", 0.0)  # grids grow only within bounds
    assert within_bounds("hard", "lam", 0.0) and not within_bounds("hard", "lam", -1.0)
    with pytest.raises(ValueError, match=r"method 'hard' does not take mu \(it takes: seed, max_iter"):
        get_method("hard").function(None, None, mu=0.1)
    assert all(isinstance(m, Method) for m in METHODS.values()) and set(PROBLEMS) >= {"tomography", "cs"}
