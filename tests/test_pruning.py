"""Pruned multi-start fits (``prune_after``, ``prune_keep``): the clearly best start is kept, the others stop,
and bad values are refused in one line."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genprior.errors import InputError
from genprior.evaluation import coverage as C
from genprior.evaluation.report import EvaluationSettings
from genprior.methods.projection import project_to_range
from genprior.methods.restarts import pruning_callback
from genprior.solvers.loop import Iteration


class DoubleWell(nn.Module):
    """``G(z) = (z^2, s z)`` as a 1x1x2 image, ``d = 1``: for the target ``(1, s)`` the objective
    ``(z^2 - 1)^2 + s^2 (z - 1)^2`` has its global minimum 0 at ``z = 1`` and a local one near
    ``z = -1`` (about ``4 s^2`` higher); starts of either sign end in their own well."""

    latent_dim = 1

    def __init__(self, s: float = 0.5) -> None:
        super().__init__()
        self.s = s

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.stack([z[:, 0] ** 2, self.s * z[:, 0]], 1).reshape(-1, 1, 1, 2)


def target(b: int, s: float = 0.5) -> torch.Tensor:
    return torch.tensor([1.0, s]).reshape(1, 1, 1, 2).repeat(b, 1, 1, 1)


@pytest.mark.parametrize("solver", ["backtracking", "lbfgs", "gauss-newton"])
def test_pruning_keeps_the_clearly_best_start_and_stops_the_others(solver):
    G, x, B, K = DoubleWell(), target(6), 6, 4
    active = []
    opts = dict(init="random", restarts=K, seed=1, max_iter=400, tol=1e-12, solver=solver)
    full = project_to_range(G, x, **opts)
    pruned = project_to_range(G, x, **opts, prune_after=3, prune_keep=1,
                              callback=lambda it: active.append((it.iteration, it.active.numel())) and None)
    # every image has starts in both wells (seed 1), so the choice matters: one start alone ends in the
    # local well for some images; the best of 4 always in the global one (objective ~0)
    alone = project_to_range(G, x, **{**opts, "restarts": 1})
    assert (alone.final_objective > 0.5).any() and (full.final_objective < 1e-6).all()
    assert (pruned.final_objective <= full.final_objective + 1e-9).all()
    # the caller's callback still runs: every start up to iteration 3, then at most one per image
    assert [n for k, n in active if k <= 3] == [K * B] * 3 and all(n <= B for k, n in active if k > 3)
    assert pruned.params["prune_after"] == 3 and pruned.params["prune_keep"] == 1


def test_pruning_callback_ranks_every_start_of_an_image():
    K, B = 3, 2  # start-major: row k * B + b
    cb = pruning_callback(K, B, after=2, keep=1)
    inf = math.inf
    # iteration 1: every row; start 2 of image 0 has the lowest objective, start 0 of image 1
    assert cb(Iteration(1, torch.arange(6), {"objective": torch.tensor([5.0, 1.0, 4.0, 2.0, 3.0, 6.0])})) is None
    # iteration 2: row 4 (start 2, image 0) has stopped; its last objective 3.0 still counts in the ranking
    stop = cb(Iteration(2, torch.tensor([0, 1, 2, 3, 5]), {"objective": torch.tensor([4.0, 0.5, 3.5, 2.5, inf])}))
    assert stop.tolist() == [True, False, True, True, True]  # image 0: row 4 (3.0) best; image 1: row 1 (0.5)
    assert cb(Iteration(3, torch.tensor([1]), {"objective": torch.tensor([0.4])})) is None  # only once
    keep2 = pruning_callback(K, B, after=1, keep=2, inner=lambda it: torch.tensor([False, False, False, False, True, False]))
    stop = keep2(Iteration(1, torch.arange(6), {"objective": torch.tensor([5.0, 1.0, 4.0, 2.0, 3.0, 6.0])}))
    assert stop.tolist() == [True, False, False, False, True, True]  # two kept per image, or-ed with the inner ask


def test_pruning_with_one_start_or_an_encoder_changes_nothing():
    G, x = DoubleWell(), target(3)
    a = project_to_range(G, x, init="random", restarts=1, max_iter=50, solver="lbfgs")
    b = project_to_range(G, x, init="random", restarts=1, max_iter=50, solver="lbfgs", prune_after=2)
    assert torch.equal(a.z, b.z) and torch.equal(a.iterations, b.iterations)


@pytest.mark.parametrize("options, message", [
    ({"prune_after": 0}, "prune_after must be an integer >= 1 or None"),
    ({"prune_after": 2.5}, "prune_after must be an integer >= 1 or None"),
    ({"prune_after": True}, "prune_after must be an integer >= 1 or None"),
    ({"prune_after": 10, "prune_keep": 0}, "prune_keep must be an integer >= 1, got 0"),
    ({"prune_after": 10, "prune_keep": None}, "prune_keep must be an integer >= 1, got None"),
])
def test_bad_pruning_values_are_refused(options, message):
    G, x = DoubleWell(), target(2)
    with pytest.raises(InputError, match=message):
        project_to_range(G, x, init="random", **options)
    with pytest.raises(InputError, match=message):
        C.range_coverage(G, x, init="random", **options)
    with pytest.raises(InputError, match=message):
        EvaluationSettings(**options).resolved(10)


def test_range_coverage_reports_its_pruning():
    G, x = DoubleWell(), target(4)
    res = C.range_coverage(G, x, init="random", restarts=3, max_iter=60, prune_after=5, prune_keep=2)
    assert res["summary"]["prune_after"] == 5 and res["summary"]["prune_keep"] == 2
    assert "prune_after" not in C.range_coverage(G, x, init="random", restarts=3, max_iter=5)["summary"]
