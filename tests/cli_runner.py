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
