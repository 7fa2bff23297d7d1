"""Every registry entry meets its contract (genprior.conformance), built-in or installed beside genprior.

The checks are parametrised over the registries as they are when the tests run, so a
problem, method or model kind that an installed package adds is checked too.  Each
check is itself checked: an entry that breaks one rule of the contract fails it.
"""

from __future__ import annotations

import dataclasses
import functools

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
    assert set(METHODS.builtins()) == {"hard", "relaxed", "sparse", "sparse-tv", "pgd", "tikhonov", "tv",
                                       "pnp", "red", "diffpir", "ddrm", "dps"}
    assert set(PROBLEMS.builtins()) == {"tomography", "sparse-view", "limited-angle", "cs", "deconvolution",
                                        "inpainting", "denoising"}
    assert set(MODEL_KINDS.builtins()) >= {"ae", "vae", "gan", "denoiser"}
    assert set(METHODS) >= set(METHODS.builtins()) and set(PROBLEMS) >= set(PROBLEMS.builtins())


def _broken(name: str, change, base: str = "tikhonov"):
    """Register a copy of the method ``base`` whose function is changed by ``change``; returns its name."""
    entry = METHODS[base]
    METHODS.register(name, Method(change(entry.function), entry.parameters))
    return name


@pytest.fixture
def broken():
    names = []
    yield lambda name, change, base="tikhonov": names.append(_broken(name, change, base)) or name
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
                            (ignore_the_fidelity, "fidelity= is ignored"), (stop_early, "neither reached the stopping"),
                            (nan_images, "NaN")]:
        name = broken(f"broken-{change.__name__}", change)
        with pytest.raises(ConformanceError, match=message):
            check_method(name)


def test_the_method_contract_runs_denoiser_methods_and_catches_their_broken_rules(broken):
    """A method that takes ``denoiser=`` is checked with the tiny Gaussian denoiser: pnp passes; a copy of it
    that ignores the fidelity, the callback or its schedule's end is caught."""
    def ignore_the_fidelity(f):
        @functools.wraps(f)  # keeps the signature, so the copy still takes denoiser=
        def g(*args, fidelity=None, **kwargs):
            return f(*args, **kwargs)
        return g

    def ignore_the_callback(f):
        @functools.wraps(f)
        def g(*args, callback=None, **kwargs):
            return f(*args, **kwargs)
        return g

    def end_at_the_cap(f):
        @functools.wraps(f)
        def g(*args, **kwargs):
            r = f(*args, **kwargs)
            return dataclasses.replace(r, ended=["max_iter" if e == "finished" else e for e in r.ended])
        return g

    check_method("pnp")
    for change, message in [(ignore_the_fidelity, "fidelity= is ignored"),
                            (ignore_the_callback, "callback= was never called"),
                            (end_at_the_cap, "neither reached the stopping rule nor finished")]:
        name = broken(f"broken-pnp-{change.__name__}", change, "pnp")
        assert METHODS[name].needs_denoiser
        with pytest.raises(ConformanceError, match=message):
            check_method(name)


def test_the_tiny_denoiser_is_the_mmse_denoiser_of_the_tiny_generators_samples():
    from genprior.conformance import TinyGenerator, tiny_denoiser

    generator = TinyGenerator()
    D = tiny_denoiser(generator)
    with torch.no_grad():
        x = generator(torch.randn(4, generator.latent_dim, generator=torch.Generator().manual_seed(9)))
        noisy = x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(10))
        denoised = D(noisy, 0.1)
    assert (denoised - x).norm() < 0.4 * (noisy - x).norm()  # it denoises the generator's images (measured: 0.23)
    assert torch.allclose(D(D.mean.reshape(1, *D.image_shape).float(), 0.1), D.mean.reshape(1, *D.image_shape).float(),
                          atol=1e-6)  # and keeps the mean


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
