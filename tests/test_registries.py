"""The registries of problems and methods: parameter dataclasses with bounds and grids, and the
options the command line generates from them (installed packages' entries: test_extending.py)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from genprior.cli.generated import Generated
from genprior.methods import METHODS, Method, check_param_values, get_method, within_bounds
from genprior.params import Params, param
from genprior.physics.problems import PROBLEMS, make_operator, problem_options


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
