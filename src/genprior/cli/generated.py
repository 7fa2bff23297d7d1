"""Command-line options generated from a registry's parameter dataclasses.

Every field of every entry of a registry (the options of each problem, the parameters
of each method; :mod:`genprior.params`) becomes one option: its flag is
``--name-with-dashes`` (or the field's ``flag``), its type the field's, its choices
are listed in ``--help``, and its help is the field's, followed by the entries that
take it and their defaults.  The option's own default is ``None``: each entry's
default applies.  Fields of several entries with one flag share the option, so a new
entry's field shows up in ``--help`` by itself, and a command never lists it by hand.

A command takes the generated options as ``**options``; :func:`with_options` adds them
to its signature, where typer reads them.  Options the command declares itself (such
as ``--seed``) are not generated again: the command passes their values on.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import typer

from genprior.errors import InputError
from genprior.params import check_value, field_types, flag_of


def _python_name(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _default_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Generated:
    """The options generated from one registry.

    Attributes:
        kind: what an entry is called in messages (``"problem"``, ``"method"``).
        entries: the registry: entry name -> its parameter dataclass.
        defaults: ``(entry, field) -> value or text`` shown as the default in ``--help``,
            where an omitted option takes another value than the field's default
            (``genprior train``: the recipe's); ``None``: the field's default.
    """

    kind: str
    entries: Mapping[str, type]
    defaults: Callable[[str, dataclasses.Field], Any] | None = None

    def _fields(self) -> dict[str, list[tuple[str, dataclasses.Field, type | None]]]:
        """``{flag: [(entry, field, plain type)]}``, tuning parameters first."""
        by_flag: dict[str, list] = {}
        for entry, cls in self.entries.items():
            kinds = field_types(cls)
            for f in dataclasses.fields(cls):
                if f.metadata.get("cli", True):
                    by_flag.setdefault(flag_of(f), []).append((entry, f, kinds[f.name]))
        return dict(sorted(by_flag.items(), key=lambda item: "grid" not in item[1][0][1].metadata))

    def parameters(self) -> list[inspect.Parameter]:
        """One keyword-only parameter per flag, with a ``typer.Option`` default of ``None``."""
        out = []
        for flag, taking in self._fields().items():
            kinds = {kind for _, f, kind in taking if "convert" not in f.metadata}
            choices = [c for _, f, _ in taking for c in f.metadata.get("choices", ())]
            if choices:
                annotation: Any = Literal[tuple(dict.fromkeys(choices))]
            elif len(kinds) <= 1 and None not in kinds:
                annotation = kinds.pop() if kinds else str  # text that a field's convert reads
            else:  # a mistake in a registry entry, not the user's
                raise TypeError(f"{flag} needs one plain type (bool, int, float, str) or a convert; got {kinds}")
            spelled = f"{flag}/--no-{flag[2:]}" if annotation is bool else flag  # a switch: --amp / --no-amp
            out.append(inspect.Parameter(_python_name(flag), inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                                         default=typer.Option(None, spelled, help=self._help(taking))))
        return out

    def _help(self, taking: list[tuple[str, dataclasses.Field, type | None]]) -> str:
        """The field's help with the entries taking it and their defaults, one part per distinct help text."""
        texts: dict[str, dict[str, Any]] = {}
        for entry, f, _ in taking:
            default = self.defaults(entry, f) if self.defaults is not None else f.default
            texts.setdefault(f.metadata.get("help", ""), {})[entry] = default
        parts = []
        for text, defaults in texts.items():
            shown = {_default_text(d) for d in defaults.values()}
            if len(shown) == 1 and None not in defaults.values():
                who = "" if len(defaults) == len(self.entries) else ", ".join(defaults) + "; "
                parts.append(f"{text} ({who}default {shown.pop()})")
            else:
                parts.append(f"{text} ({', '.join(e if d is None else f'{e} {_default_text(d)}' for e, d in defaults.items())})")
        joined = "; ".join(parts) + "."
        return joined[:1].upper() + joined[1:] if joined[1:2].isalpha() else joined

    def values(self, entry: str, options: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of ``entry`` from a command's option values (``None``: not given).

        Each value is checked against its field, errors naming the flag.

        Raises:
            ValueError: an option of this registry that ``entry`` does not take was given,
                or a value is out of bounds.
        """
        cls = self.entries[entry]
        kinds = field_types(cls)
        mine = {flag_of(f): f for f in dataclasses.fields(cls) if f.metadata.get("cli", True)}
        unused = [flag for flag in self._fields() if flag not in mine and options.get(_python_name(flag)) is not None]
        if unused:
            raise InputError(f"{self.kind} {entry!r} does not take {', '.join(unused)}")
        out = {}
        for flag, f in mine.items():
            value = options.get(_python_name(flag))
            if value is not None:
                out[f.name] = check_value(f, kinds[f.name], value, flag)
        return out


def with_options(*groups: Generated) -> Callable[[Callable], Callable]:
    """Add the generated options of ``groups`` to a command ending in ``**options``."""

    def add(command: Callable) -> Callable:
        signature = inspect.signature(command)
        own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        extra: dict[str, inspect.Parameter] = {}
        for group in groups:
            for p in group.parameters():
                if p.name in extra:
                    raise TypeError(f"option {p.name!r} is generated by two registries")
                if p.name not in {q.name for q in own}:
                    extra[p.name] = p
        command.__signature__ = signature.replace(parameters=[*own, *extra.values()])
        return command

    return add
