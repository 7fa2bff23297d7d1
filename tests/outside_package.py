"""A package outside genprior, laid out as ``pip install`` leaves it, whose entry points add
to genprior's registries (:mod:`genprior.registry`), and the command line run beside it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def outside_package(root: Path, package: str, modules: dict[str, str],
                    entry_points: dict[str, dict[str, str]]) -> Path:
    """Write ``root/<package>/`` (an ``__init__.py`` and ``modules``: name -> source) and
    ``root/<package>-0.1.dist-info/`` (``METADATA`` and an ``entry_points.txt`` declaring
    ``entry_points``: group -> {name: "module:attribute"}); returns ``root``.

    With ``root`` on ``sys.path`` (``PYTHONPATH``), ``importlib.metadata`` finds the
    distribution and its entry points as it finds an installed package's.
    """
    folder = root / package
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text(f'"""{package}: a package outside genprior."""\n')
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / f"{package}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in entries.items()) + "\n"
        for group, entries in entry_points.items()))
    return root


def genprior_beside(root: Path, args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    """``genprior ARGS`` in a new process with the outside package in ``root`` installed (on
    ``PYTHONPATH``), wide ``--help`` lines (``COLUMNS=300``)."""
    env = {**os.environ, "COLUMNS": "300",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "genprior", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
