"""The one iteration loop: per-image stopping and endings, the history of named statistics, the callback."""

from __future__ import annotations

import pytest
import torch

from genprior.errors import InputError
from genprior.solvers.loop import Iteration, Report, iterate


def halving(values: torch.Tensor, stop_below: float, every: int = 1, stall: int | None = None):
    """A toy solver: each image's value halves per iteration; it converges below ``stop_below``."""
    calls = []

    def step(idx, history):
        calls.append(idx.clone())
        values[idx] = values[idx] / 2
        v = values[idx].double()
        stalled = (idx == stall) if stall is not None else None
        return Report({"objective": v, "twice": 2 * v}, converged=v < stop_below, stalled=stalled,
                      record=history.iteration % every == 0)

    return step, calls


def test_each_image_stops_on_its_own_and_the_history_says_when():
    values = torch.tensor([1.0, 8.0, 64.0])
    step, calls = halving(values, stop_below=0.3)
    record = iterate(step, {"objective": values.double().clone()}, max_iter=100)
    assert record.iterations.tolist() == [2, 5, 8] and record.converged.all()
    assert record.ended == ["converged"] * 3
    assert [c.tolist() for c in calls[:3]] == [[0, 1, 2], [0, 1, 2], [1, 2]]  # stopped images are not passed again
    hist = record.history["objective"]
    assert hist.shape == (9, 3) and hist[0].tolist() == [1.0, 8.0, 64.0]
    assert hist[2, 0] == 0.25 and torch.isnan(hist[3:, 0]).all() and torch.isnan(hist[6:, 1]).all()
    assert torch.equal(record.history["twice"][1:], 2 * hist[1:].nan_to_num(-1)) is False  # NaN rows stay NaN
    assert torch.allclose(record.history["twice"][1:3, 0], 2 * hist[1:3, 0])
    assert record.recorded_at.tolist() == list(range(9))


def test_the_cap_a_stall_and_a_callback_end_images_unconverged():
    values = torch.tensor([1.0, 8.0, 64.0, 512.0])
    step, _ = halving(values, stop_below=0.3, stall=1)
    seen: list[Iteration] = []

    def callback(info: Iteration):
        seen.append(info)
        return info.active == 2 if info.iteration == 3 else None  # stop image 2 after iteration 3

    record = iterate(step, {"objective": values.double().clone()}, max_iter=6, callback=callback)
    assert record.ended == ["converged", "stalled", "callback", "max_iter"]
    assert record.iterations.tolist() == [2, 1, 3, 6] and record.converged.tolist() == [True, False, False, False]
    assert [i.iteration for i in seen] == [1, 2, 3, 4, 5, 6] and set(seen[0].stats) == {"objective", "twice"}
    everything = iterate(halving(torch.tensor([1.0, 8.0]), 0.3)[0], {"objective": torch.ones(2)}, max_iter=50,
                         callback=lambda info: True)
    assert everything.iterations.tolist() == [1, 1] and everything.ended == ["callback", "callback"]


def test_rows_are_recorded_every_few_iterations_and_when_an_image_stops():
    values = torch.tensor([1.0, 64.0])
    step, _ = halving(values, stop_below=0.3, every=4)
    record = iterate(step, {"objective": values.double().clone()}, max_iter=100)
    assert record.recorded_at.tolist() == [0, 2, 4, 8]  # image 0 stopped at 2, image 1 at 8
    hist = record.history["objective"]
    assert hist[1, 0] == 0.25 and hist[1, 1] == 16.0 and hist[3, 1] == 0.25  # a row holds what the step reported


def test_no_iterations_and_bad_arguments():
    record = iterate(lambda idx, h: None, {"objective": torch.ones(2)}, max_iter=0)
    assert record.iterations.tolist() == [0, 0] and record.ended == ["max_iter", "max_iter"]
    with pytest.raises(InputError, match="max_iter must be an integer >= 0"):
        iterate(lambda idx, h: None, {"objective": torch.ones(2)}, max_iter=-1)
    with pytest.raises(InputError, match="at least one statistic"):
        iterate(lambda idx, h: None, {}, max_iter=3)


def test_every_solver_runs_on_the_loop():
    """One loop: the solvers' modules call iterate, none keeps an active set of its own."""
    import inspect

    from genprior.solvers import backtracking, pdhg, projected_gradient

    for module in (backtracking, pdhg, projected_gradient):
        source = inspect.getsource(module)
        assert "iterate(step" in source and "active = torch.ones" not in source, module.__name__
