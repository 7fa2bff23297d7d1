"""List the public names whose docstrings are incomplete (issue 26: "docstrings complete").

    python docs/site/check_docstrings.py            # the list; exit 0
    python docs/site/check_docstrings.py --strict   # exit 1 while the list is not empty

Checked: every name of ``import genprior as gp`` (``genprior._API``) and every entry of the
registries ``gp.METHODS`` (the function and its parameter dataclass), ``gp.PROBLEMS`` (the
options dataclass, its ``build`` and the operator it builds) and ``gp.MODEL_KINDS`` (the
model class and its ``Settings``).  A function or method is complete when its docstring
(Google style) has an ``Args:`` entry for every parameter (``**params`` may be described
in prose), a ``Returns:`` section unless it returns ``None``, a ``Raises:`` section, and a
shape such as ``[B, 1, H, W]`` wherever a tensor goes in or comes out.  A class is complete
when it has a docstring and every dataclass field has its help (``param(default, help)``)
or an ``Attributes:`` entry.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import typing

SHAPE = re.compile(r"\[[A-Za-z0-9_]+(, *[A-Za-z0-9_.+*/ -]+)*\]")
SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Yields|Raises|Attributes):\s*$", re.MULTILINE)


def sections(doc: str) -> dict[str, str]:
    """``{section name: its text}`` of a Google-style docstring (``""`` for the summary)."""
    parts, name, start = {}, "", 0
    for match in SECTION.finditer(doc):
        parts[name] = doc[start:match.start()]
        name, start = match.group(1), match.end()
    parts[name] = doc[start:]
    return parts


def documented_args(text: str) -> set[str]:
    """Names an ``Args:`` section describes (``name:``, ``name (type):``, ``a, b:`` and ``**name:``)."""
    names = set()
    for line in text.splitlines():
        match = re.match(r"^\s{0,12}([*\w][\w, *]*?)(\s*\([^)]*\))?:\s", line + " ")
        if match:
            names.update(n.strip().lstrip("*") for n in match.group(1).split(","))
    return names


def mentions_tensor(annotation) -> bool:
    return "Tensor" in str(annotation)


def check_function(name: str, fn) -> list[str]:
    doc = inspect.getdoc(fn)
    if not doc:
        return [f"{name}: no docstring"]
    faults = []
    parts = sections(doc)
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return faults
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # a hint that needs a name missing at run time
        hints = {k: p.annotation for k, p in signature.parameters.items()}
    params = [p for p in signature.parameters.values() if p.name not in ("self", "cls")]
    args = documented_args(parts.get("Args", "") + parts.get("Arguments", "") + parts.get("Parameters", ""))
    missing = [p.name for p in params if p.name not in args
               and not (p.kind is inspect.Parameter.VAR_KEYWORD and p.name in doc)]
    if missing:
        faults.append(f"{name}: parameters not in Args: {', '.join(missing)}")
    returns = hints.get("return", signature.return_annotation)
    if returns not in (None, type(None), "None", inspect.Signature.empty) and "Returns" not in parts \
            and "Yields" not in parts:
        faults.append(f"{name}: no Returns section")
    if "Raises" not in parts:
        faults.append(f"{name}: no Raises section")
    tensors = any(mentions_tensor(hints.get(p.name, p.annotation)) for p in params) or mentions_tensor(returns)
    if tensors and not SHAPE.search(doc):
        faults.append(f"{name}: tensors in or out, but no shape such as [B, 1, H, W]")
    return faults


def check_class(name: str, cls) -> list[str]:
    doc = inspect.getdoc(cls) if cls.__doc__ else None
    if not doc or (dataclasses.is_dataclass(cls) and doc.startswith(cls.__name__ + "(")):
        return [f"{name}: no docstring"]
    faults = []
    if dataclasses.is_dataclass(cls):
        attributes = documented_args(sections(doc).get("Attributes", ""))
        bare = [f.name for f in dataclasses.fields(cls) if "help" not in f.metadata and f.name not in attributes]
        if bare:
            faults.append(f"{name}: fields without help or an Attributes entry: {', '.join(bare)}")
    return faults


def check(name: str, obj) -> list[str]:
    if inspect.isclass(obj):
        return check_class(name, obj)
    if callable(obj):
        return check_function(name, obj)
    return [] if obj.__doc__ and type(obj).__doc__ != obj.__doc__ else [f"{name}: no docstring of its own"]


def targets() -> list[tuple[str, object]]:
    """Every public name and registry entry the issue asks to document, with its object."""
    import genprior as gp

    found = [(f"gp.{n}", getattr(gp, n)) for n in sorted(gp._API) if n not in ("METHODS", "PROBLEMS", "MODEL_KINDS")]
    for key, method in sorted(gp.METHODS.items()):
        found += [(f"METHODS[{key!r}].function ({method.function.__module__}.{method.function.__name__})",
                   method.function),
                  (f"METHODS[{key!r}].parameters ({method.parameters.__name__})", method.parameters)]
    for key, options in sorted(gp.PROBLEMS.items()):
        found += [(f"PROBLEMS[{key!r}] ({options.__name__})", options),
                  (f"PROBLEMS[{key!r}].build", options.build)]
        built = type(options().build(16))  # the operator's class is known by building one (16x16)
        found.append((f"PROBLEMS[{key!r}] builds {built.__module__}.{built.__name__}", built))
    for key, kind in sorted(gp.MODEL_KINDS.items()):
        model = kind.model_class
        found += [(f"MODEL_KINDS[{key!r}] ({model.__module__}.{model.__name__})", model),
                  (f"MODEL_KINDS[{key!r}].Settings ({model.Settings.__name__})", model.Settings)]
    return found


def main(argv: list[str]) -> int:
    faults = [fault for name, obj in targets() for fault in check(name, obj)]
    for fault in faults:
        print(fault)
    print(f"{len(faults)} docstring faults in {len(targets())} public names and registry entries")
    return 1 if faults and "--strict" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
