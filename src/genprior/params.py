"""Parameter dataclasses: the one place an option's type, default, bounds, help and grid are written.

The entries of the registries (the options of an inverse problem, the parameters of a
method) are frozen dataclasses deriving from :class:`Params`, with fields made by
:func:`param`.  Construction converts and checks every field, so a bad value is a
``ValueError`` naming it before any work is done, and the command line builds its
options and their help from the same fields (:mod:`genprior.cli.generated`).

The checks, for a field's type (the first of ``bool``, ``int``, ``float``, ``str`` in its
annotation) and the bounds in its metadata: ``int`` fields take integers only,
``float`` fields finite numbers (or a tensor of them: a value per image), ``minimum``
means ``>=``, ``above`` means ``>``, ``maximum`` means ``<=``, ``below`` means ``<``,
``choices`` lists the allowed strings.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor

from genprior.errors import InputError
from genprior.validation import check_choice

# (start, {factor: floor}): a tuning grid start, start * factor, ... down to floor, with the
# factor chosen by the image size (genprior.choice.grids.default_grid).
Grid = tuple[float, dict[float, float]]


def param(default: Any, help: str, *, minimum: float | None = None, above: float | None = None,
          maximum: float | None = None, below: float | None = None, choices: Sequence[str] | None = None,
          what: str | None = None, why: str | None = None, flag: str | None = None,
          convert: Callable[[Any], Any] | None = None, grid: Grid | None = None, cli: bool = True) -> Any:
    """A dataclass field carrying its meaning and bounds in ``metadata``.

    Args:
        default: the value when none is given (``None``: the entry chooses, e.g. from the image size).
        help: one sentence for ``--help`` and the docs.
        minimum, above, maximum, below: bounds ``>= minimum``, ``> above``, ``<= maximum``, ``< below``.
        choices: the allowed strings (a tensor may stand in where the annotation allows one).
        what: how an error names a bad choice (default: the field name with spaces).
        why: the reason for a bound, added to its error message.
        flag: the command-line flag when it is not ``--name-with-dashes``.
        convert: turns a given value (for example the text ``"0:90deg"``) into the field's
            value; raises ``ValueError("must ...")``.
        grid: the default tuning grid of a regularisation parameter, ``(start, {factor: floor})``.
        cli: whether the command line offers the field (``False``: the Python API only).

    A field whose annotation admits ``None`` (``int | None``) takes ``None`` besides its bounds.
    """
    given = dict(help=help, minimum=minimum, above=above, maximum=maximum, below=below,
                 choices=tuple(choices or ()) or None, what=what, why=why, flag=flag, convert=convert, grid=grid,
                 cli=None if cli else False)
    return dataclasses.field(default=default, metadata={k: v for k, v in given.items() if v is not None})


@functools.cache
def flag_of(field: dataclasses.Field) -> str:
    """The command-line flag of ``field``: its ``flag``, else ``--name-with-dashes``."""
    return field.metadata.get("flag", "--" + field.name.replace("_", "-"))


def nullable_fields(cls: type) -> frozenset[str]:
    """The fields of ``cls`` whose annotation admits ``None``."""
    hints = typing.get_type_hints(cls)
    return frozenset(f.name for f in dataclasses.fields(cls) if type(None) in typing.get_args(hints[f.name]))


@functools.cache
def field_types(cls: type) -> dict[str, type | None]:
    """The plain type of every field of ``cls`` (``None`` for a field of another type, e.g. a tuple)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        out[f.name] = next((t for t in options if t in (bool, int, float, str)), None)
    return out


def _requirement(meta: dict[str, Any], kind: type | None) -> str:
    if kind is int:
        if "minimum" in meta and "maximum" in meta:
            return f"an integer from {meta['minimum']} to {meta['maximum']}"
        return f">= {meta['minimum']:g} (an integer)" if "minimum" in meta else "an integer"
    if "minimum" in meta and "below" in meta:
        return f"a number in [{meta['minimum']:g}, {meta['below']:g})"
    if "above" in meta and "maximum" in meta:
        return f"in ({meta['above']:g}, {meta['maximum']:g}]"
    if "above" in meta:
        return f"finite and > {meta['above']:g}"
    if "minimum" in meta:
        return f"finite and >= {meta['minimum']:g}"
    return "a finite number"


def _number_ok(v: Any, meta: dict[str, Any], kind: type) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and not isinstance(v, int)):
        return False
    if v != v or abs(v) == float("inf"):
        return False
    return (("minimum" not in meta or v >= meta["minimum"]) and ("above" not in meta or v > meta["above"])
            and ("maximum" not in meta or v <= meta["maximum"]) and ("below" not in meta or v < meta["below"]))


def check_value(field: dataclasses.Field, kind: type | None, value: Any, label: str, nullable: bool = False) -> Any:
    """``value`` for ``field`` (of plain type ``kind``), converted and checked; errors call it ``label``.
    ``None`` passes where the field's default is ``None`` or ``nullable`` says its annotation admits it."""
    meta = field.metadata
    if value is None and (field.default is None or nullable):
        return None
    if "convert" in meta and not isinstance(value, Tensor):
        try:
            value = meta["convert"](value)
        except ValueError as exc:
            raise InputError(f"{label} {exc}") from None
    if "choices" in meta:
        if not isinstance(value, Tensor):
            check_choice(value, meta["choices"], meta.get("what", label.replace("_", " ")))
        return value
    if kind is float and isinstance(value, (list, tuple)):
        raise InputError(f"{label} must be a number, or a tensor with one value per image (torch.tensor([...])), "
                         f"got a {type(value).__name__}")
    if kind in (int, float):
        values = value.reshape(-1).tolist() if isinstance(value, Tensor) and kind is float else [value]
        # a field with a minimum and a strict bound (TV's lam: >= 0 like every weight, and > 0) names the one broken
        stages = [{k: v for k, v in meta.items() if k != "above"}, meta] if "minimum" in meta else [meta]
        for stage in stages:
            if not all(_number_ok(v, stage, kind) for v in values):
                why = f" ({meta['why']})" if "why" in meta else ""
                raise InputError(f"{label} must be {_requirement(stage, kind)}{why}, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Params:
    """Base of a parameter dataclass: every field is converted and checked on construction."""

    def __post_init__(self) -> None:
        kinds, nullable = field_types(type(self)), nullable_fields(type(self))
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, check_value(f, kinds[f.name], getattr(self, f.name), f.name,
                                                         f.name in nullable))

    @classmethod
    def create(cls, values: dict[str, Any], owner: str) -> Params:
        """An instance from keyword ``values`` (``None`` means the default).

        Raises:
            ValueError: a name ``cls`` has no field for (the message names ``owner`` and
                lists the fields), or a value out of bounds.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise InputError(f"{owner} does not take {', '.join(unknown)} (it takes: {', '.join(names) or 'no options'})")
        return cls(**{k: v for k, v in values.items() if v is not None})

    def values(self) -> dict[str, Any]:
        """The fields as a ``{name: value}`` dict (tensors kept, not copied)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def fields_with(cls: type, key: str) -> dict[str, Any]:
    """``{field name: metadata[key]}`` for the fields of ``cls`` that have ``key``."""
    return {f.name: f.metadata[key] for f in dataclasses.fields(cls) if key in f.metadata}
