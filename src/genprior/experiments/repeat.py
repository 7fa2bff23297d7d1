"""The ``genprior reconstruct`` command that repeats a reconstruction run, every parameter spelled out.

A run is repeated exactly when the command names the same images, noise, operator,
model and method parameters.  :func:`reconstruct_argv` writes every parameter the
method's dataclass offers on the command line (not only those that differ from the
default), so a later version's defaults cannot change what the command computes; the
noise has its own seed (``--noise-seed``), apart from the method's ``--seed``.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Sequence
from typing import Any

from genprior.errors import InputError
from genprior.methods import get_method
from genprior.params import flag_of


def format_indices(indices: Sequence[int]) -> str:
    """``--indices`` for ``indices``: ``start:stop`` for a contiguous run, else ``i,j,k``."""
    indices = [int(i) for i in indices]
    if not indices:
        raise InputError("no images to repeat: the run's index list is empty")
    if indices == list(range(indices[0], indices[-1] + 1)):
        return f"{indices[0]}:{indices[-1] + 1}"
    return ",".join(map(str, indices))


def _text(value: Any) -> str:
    """A value as a command-line word that parses back to the same value (``repr`` of a float round-trips)."""
    return repr(value) if isinstance(value, float) else str(value)


def method_flags(method: str, params: dict[str, Any]) -> list[str]:
    """``[flag, value, ...]`` for every command-line field of ``method``'s parameters, the weights first.

    Args:
        method: a registered method name.
        params: the run's parameters (its record's ``params``: every field, the starting
            points by name); a field missing from it takes the method's default.

    Raises:
        InputError: a parameter that a command line cannot carry (a tensor: per-image
            values or starting points given as arrays).
    """
    entry = get_method(method)
    words: list[str] = []
    ordered = sorted(dataclasses.fields(entry.parameters), key=lambda f: "grid" not in f.metadata)  # lam, mu first
    for f in ordered:
        if not f.metadata.get("cli", True):
            continue
        value = params.get(f.name, f.default)
        if value is None:  # the method chooses (e.g. from the image size): as the command does without the flag
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, str)) or value == "tensor":
            raise InputError(f"{method}'s {f.name} ({type(value).__name__}) cannot be written on a command line; "
                             "only runs with scalar parameters and named starts can be repeated by a command")
        words += [flag_of(f), _text(value)]
    return words


def reconstruct_argv(method: str, params: dict[str, Any], *, problem: str, data: str | os.PathLike,
                     indices: Sequence[int], noise: float, noise_seed: int, out: str | os.PathLike,
                     model: str | os.PathLike | None = None, split: str = "test") -> list[str]:
    """The arguments of ``genprior reconstruct`` that repeat a run (``params``'s ``seed`` is ``--seed``).

    ``data``'s ``split`` holds the images; ``indices`` are the run's images in it, in
    order (their noise is drawn for all of them at once from ``noise_seed``).
    """
    argv = ["reconstruct", "--problem", problem, "--method", method, "--data", str(data), "--split", split,
            "--indices", format_indices(indices)]
    if model is not None:
        argv += ["--model", str(model)]
    argv += ["--noise", _text(float(noise)), "--noise-seed", str(int(noise_seed)), *method_flags(method, params)]
    return [*argv, "--out", str(out)]


def command_line(argv: Sequence[str]) -> str:
    """``genprior ARGV`` quoted for a POSIX shell."""
    return shlex.join(["genprior", *argv])
