"""What a finished experiment's numbers depend on: its setup (data) and the code that computed them.

**Setup.**  An experiment's setup is the data its module states as constants: every
module-level name in capitals (``NOISES``, ``LATENTS``, ``MNIST_CS``, ...) whose value is
plain data (numbers, strings, booleans, ``None``, tuples, lists and dicts of them,
dataclass instances such as a :class:`~.tables.TableSetup`).  Constants imported into the
module count too (the discrepancy experiment holds the tables' setups).  So a number
that shapes a result belongs in such a constant, not in a function body: a change to it
is a change of setup, and the runner recomputes.

**Code.**  The fingerprint of an experiment is the hash of every genprior module its
computation can reach: the experiment's own module, the paper's assets (data, models)
and protocol, and, transitively, every genprior module they import (at module level or
inside functions), read statically from the sources.  Modules that only format, store
or guard (:data:`NOT_COMPUTING`) are left out.  A module's hash ignores its comments,
docstrings and layout (the tokens that remain are hashed), so editing prose does not
count as a change of code.  When the fingerprint changes and the setup does not, the
runner stops and names the modules (:func:`changed_modules`).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import importlib.util
import io
import os
import re
import sys
import tokenize
from typing import Any

#: Module prefixes left out of fingerprints: they format reports and figures, write files, check
#: inputs or resources, or train generators (trained models are assets, named by their recipe's hash).
NOT_COMPUTING = ("genprior.experiments.paper.runner", "genprior.experiments.paper.claims",
                 "genprior.experiments.paper.provenance", "genprior.experiments.paper.verdicts",
                 "genprior.figures", "genprior.cli", "genprior.atomic", "genprior.outputs", "genprior.errors",
                 "genprior.validation", "genprior.devices", "genprior.distributed", "genprior.readfiles",
                 "genprior.resources", "genprior.registry", "genprior.training", "genprior.evaluation.report_figures",
                 "genprior.evaluation.report_text")
#: Modules every experiment's computation starts from besides its own.
SHARED_ROOTS = ("genprior.experiments.paper.assets", "genprior.experiments.paper.protocol")
_CONSTANT = re.compile(r"[A-Z][A-Z0-9_]*")
_NAMED = re.compile(r"[A-Za-z_]\w*(\.\w+)+(:\w+)?")


def _as_data(value: Any) -> Any:
    """``value`` as JSON-able data, or raise ``TypeError`` if it is not plain data."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_as_data(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _as_data(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _as_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(type(value).__name__)


def module_setup(module_name: str) -> dict[str, Any]:
    """The capitalised module-level constants of ``module_name`` that are plain data, by name."""
    setup = {}
    for name, value in vars(sys.modules[module_name]).items():
        if _CONSTANT.fullmatch(name):
            try:
                setup[name] = _as_data(value)
            except TypeError:
                continue  # a class, a registry, a function: not data
    return dict(sorted(setup.items()))


def _package(name: str) -> str:
    spec = importlib.util.find_spec(name)
    return name if spec is not None and spec.submodule_search_locations is not None else name.rpartition(".")[0]


@functools.lru_cache(maxsize=None)
def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _stamp(origin: str) -> tuple[int, int]:
    """The file's modification time and size: a cached reading is used while both stay the same."""
    stat = os.stat(origin)
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=None)
def _candidates(origin: str, stamp: tuple[int, int], package: str) -> frozenset[str]:
    """Dotted names module ``origin`` may import: its imports (relative ones resolved against
    ``package``), ``base.name`` for each ``from base import name``, and strings shaped like a
    module or a ``"module:Class"`` entry."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(open(origin, encoding="utf-8").read())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _NAMED.fullmatch(node.value):
            found.add(node.value.split(":")[0])
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return frozenset(found)


def imported_modules(name: str, top: str = "genprior") -> set[str]:
    """The modules of package ``top`` that module ``name`` imports anywhere in its source (at module
    level or in a function), or names in a string (``"genprior.models.vae:VAE"``: the registries
    import their entries' modules on first use)."""
    origin = importlib.util.find_spec(name).origin
    candidates = _candidates(origin, _stamp(origin), _package(name))
    return {m for m in candidates if (m == top or m.startswith(top + ".")) and _is_module(m)}


def code_modules(root: str) -> list[str]:
    """Every module the computation of the experiment in module ``root`` can reach (see the module docstring)."""
    tops = {"genprior", root.split(".")[0]}
    seen: set[str] = set()
    todo = [root, *SHARED_ROOTS]
    while todo:
        name = todo.pop()
        if name in seen or (name != root and name.startswith(NOT_COMPUTING)) or name == "genprior":
            continue
        seen.add(name)
        for top in tops:
            todo += sorted(imported_modules(name, top))
    return sorted(seen)


def source_hash(name: str) -> str:
    """A short hash of module ``name``'s tokens without comments, docstrings and layout."""
    origin = importlib.util.find_spec(name).origin
    return _source_hash(origin, _stamp(origin))


@functools.lru_cache(maxsize=None)
def _source_hash(origin: str, stamp: tuple[int, int]) -> str:
    source = open(origin, encoding="utf-8").read()
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                docstrings.add((first.lineno, first.col_offset))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
    words = [tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline)
             if tok.type not in skip and not (tok.type == tokenize.STRING and tok.start in docstrings)]
    return hashlib.sha256("\x00".join(words).encode()).hexdigest()[:16]


def fingerprint(root: str) -> dict[str, str]:
    """``{module: source hash}`` for every module of :func:`code_modules` ``(root)``."""
    return {name: source_hash(name) for name in code_modules(root)}


def changed_modules(recorded: dict[str, str] | None, current: dict[str, str]) -> list[str]:
    """The modules whose code differs between two fingerprints (changed, added or no longer used);
    ``["(no fingerprint recorded)"]`` when there is no recorded one."""
    if recorded is None:
        return ["(no fingerprint recorded)"]
    names = sorted(set(recorded) | set(current))
    return [name + ("" if name in recorded and name in current else " (new)" if name in current else " (gone)")
            for name in names if recorded.get(name) != current.get(name)]
