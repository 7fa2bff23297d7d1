"""Run the ``genprior`` command line as the tests do: in-process, or in a new process after a
script registers a user's entries (with the user's module and a small data set in a folder)."""

from __future__ import annotations

from genprior.cli import main


def run_cli(args: list[str]) -> int:
    """Exit status of ``genprior ARGS`` (0 on success, 2 for a user error)."""
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def solve_in_process(data, model, indices: list[int], method: str, noise: float = 0.1, seed: int = 0,
                     split: str = "test", **params):
    """What ``genprior reconstruct --problem tomography`` computes, recomputed through the Python API
    (``gp.measure`` with ``seed``, then ``gp.solve`` with the same ``seed`` and ``params``):
    returns ``(result, truth)``."""
    import genprior as gp
    from genprior.data.io import load_images

    truth = load_images(data, split)[indices]
    A = gp.operator("tomography", int(truth.shape[-1]))
    y = gp.measure(A, truth, noise=noise, seed=seed)
    generator = gp.load_model(model) if model is not None else None
    return gp.solve(method, A, y, generator, seed=seed, **params), truth


def user_folder(folder, module: str, source: str, train_shape: tuple[int, ...], test_shape: tuple[int, ...]):
    """``folder`` holding a user's module ``module.py`` (``source``) and ``small.npz``
    (uniform random images of the given shapes, seed 0); returns ``folder``."""
    import numpy as np

    from genprior.data.io import save_dataset

    (folder / f"{module}.py").write_text(source)
    g = np.random.default_rng(0)
    save_dataset(folder / "small.npz", train=g.random(train_shape), test=g.random(test_shape), meta={"dataset": "t"})
    return folder


def run_script(script: str):
    """Run a Python ``script`` (which registers a user's entries, then calls the CLI) in a new
    process, as a user's program would; wide ``--help`` lines (``COLUMNS=300``)."""
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "300"})
