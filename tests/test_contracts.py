"""Every registry entry meets its contract (genprior.conformance), built-in or installed beside genprior.

The checks are parametrised over the registries as they are when the tests run, so a
problem, method or model kind that an installed package adds is checked too.  Each
check is itself checked: an entry that breaks one rule of the contract fails it.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from genprior.conformance import ConformanceError, check_method, check_model_kind, check_problem
from genprior.methods import METHODS, Method
from genprior.models import MODEL_KINDS
from genprior.physics import PROBLEMS


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_every_problem_meets_the_operator_contract(name):
    check_problem(name)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_meets_the_method_contract(name):
    check_method(name)


@pytest.mark.parametrize("name", sorted(MODEL_KINDS))
def test_every_model_kind_trains_saves_and_loads(name, tmp_path):
    check_model_kind(name, tmp_path / "run")


def test_the_registries_hold_the_built_ins():
    assert set(METHODS.builtins()) == {"hard", "relaxed", "sparse", "sparse-tv", "pgd", "tikhonov", "tv"}
    assert set(PROBLEMS.builtins()) == {"tomography", "sparse-view", "limited-angle", "cs", "deconvolution",
                                        "inpainting", "denoising"}
    assert set(MODEL_KINDS.builtins()) >= {"ae", "vae", "gan"}
    assert set(METHODS) >= set(METHODS.builtins()) and set(PROBLEMS) >= set(PROBLEMS.builtins())


def _broken(name: str, change):
    """Register a copy of the method ``tikhonov`` whose function is changed by ``change``; returns its name."""
    base = METHODS["tikhonov"]
    METHODS.register(name, Method(change(base.function), base.parameters))
    return name


@pytest.fixture
def broken():
    names = []
    yield lambda name, change: names.append(_broken(name, change)) or name
    for name in names:
        METHODS.unregister(name)


def test_the_method_contract_catches_each_broken_rule(broken):
    def drop_a_record(f):
        def g(*args, **kwargs):
            r = f(*args, **kwargs)
            r.params.pop("tol")
            return r
        return g

    def ignore_the_callback(f):
        return lambda *args, callback=None, **kwargs: f(*args, **kwargs)

    def ignore_the_fidelity(f):
        return lambda *args, fidelity=None, **kwargs: f(*args, **kwargs)

    def stop_early(f):
        return lambda *args, **kwargs: f(*args, **{**kwargs, "max_iter": 2})

    def nan_images(f):
        def g(*args, **kwargs):
            r = f(*args, **kwargs)
            return dataclasses.replace(r, x=torch.full_like(r.x, float("nan")))
        return g

    for change, message in [(drop_a_record, "leaves out tol"), (ignore_the_callback, "callback= was never called"),
                            (ignore_the_fidelity, "fidelity= is ignored"), (stop_early, "did not reach the stopping"),
                            (nan_images, "NaN")]:
        name = broken(f"broken-{change.__name__}", change)
        with pytest.raises(ConformanceError, match=message):
            check_method(name)


def test_the_operator_contract_catches_a_wrong_adjoint_and_norm():
    from genprior.physics.denoising import Identity
    from genprior.physics.options import ProblemOptions

    class Doubling(Identity):
        def _forward(self, x):
            return 2.0 * x

        def _adjoint(self, y):
            return 2.0 * y

    class NotAdjoint(Identity):
        def _adjoint(self, y):
            return torch.roll(y, 1, dims=-1)

    for cls, message in [(Doubling, "norm is 2"), (NotAdjoint, "not the adjoint")]:
        options = dataclasses.make_dataclass(f"{cls.__name__}Options", [], bases=(ProblemOptions,), frozen=True,
                                             namespace={"build": lambda self, n, cls=cls: cls(n)})
        PROBLEMS.register(cls.__name__.lower(), options)
        try:
            with pytest.raises(ConformanceError, match=message):
                check_problem(cls.__name__.lower())
        finally:
            PROBLEMS.unregister(cls.__name__.lower())
