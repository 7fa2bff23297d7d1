"""Published numbers kept honest: a recomputed experiment says which of its numbers moved, and why.

When an experiment is computed again where an earlier result of it was published (its
settings or its code changed), :func:`republication` compares the two: every cell whose
mean PSNR moved by more than :data:`THRESHOLD_DB` is listed, with the cause, read from
the two results' records: the settings that differ (``result["settings"]``, the record
the settings key hashes: setup constants, protocol, recipes, data sizes) and the modules
whose code differs (``result["code"]``).  The entry is kept in ``result["republished"]``
(every earlier one too) and its line closes the experiment's section of REPORT.md.
"""

from __future__ import annotations

import datetime
from typing import Any

THRESHOLD_DB = 0.1  # a mean PSNR that moves by more than this is reported


def psnr_means(result: dict[str, Any]) -> dict[str, float]:
    """Each cell's mean PSNR (dB): ``cells[key]["psnr"]`` as ``{"mean": ...}`` or a per-image list."""
    out = {}
    for key, cell in (result.get("cells") or {}).items():
        psnr = cell.get("psnr") if isinstance(cell, dict) else None
        if isinstance(psnr, dict) and isinstance(psnr.get("mean"), (int, float)):
            out[key] = float(psnr["mean"])
        elif isinstance(psnr, list) and psnr and all(isinstance(v, (int, float)) for v in psnr):
            out[key] = sum(psnr) / len(psnr)
    return out


def moved(previous: dict[str, Any], result: dict[str, Any], threshold: float = THRESHOLD_DB) -> list[str]:
    """``"cell old -> new dB"`` for every cell of both results whose mean PSNR moved by more than ``threshold``."""
    old, new = psnr_means(previous), psnr_means(result)
    return [f"{key} {old[key]:.2f} -> {new[key]:.2f} dB" for key in sorted(old.keys() & new.keys())
            if abs(new[key] - old[key]) > threshold]


def causes(previous: dict[str, Any], result: dict[str, Any]) -> str:
    """What differs between the two results' settings and code, in words."""
    reasons = []
    if previous.get("key") != result.get("key"):
        before, after = previous.get("settings"), result.get("settings") or {}
        if before is None:
            reasons.append("its settings changed (the earlier result predates the record of its settings)")
        else:
            fields = []
            for name in sorted(before.keys() | after.keys()):
                a, b = before.get(name), after.get(name)
                if a == b:
                    continue
                if isinstance(a, dict) and isinstance(b, dict):
                    fields += [f"{name}.{k}" for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
                else:
                    fields.append(name)
            reasons.append(f"its settings changed ({', '.join(fields)})")
    old_code, new_code = previous.get("code") or {}, result.get("code") or {}
    modules = sorted(m for m in old_code.keys() | new_code.keys() if old_code.get(m) != new_code.get(m))
    if modules:
        reasons.append(f"its code changed ({', '.join(modules)})")
    return "; ".join(reasons) or "computed again with the same settings and code (the numbers are not reproducible)"


def republication(previous: dict[str, Any] | None, result: dict[str, Any]) -> list[dict[str, Any]]:
    """``result``'s republication record: the earlier ones, plus one for this run if a mean PSNR
    moved by more than :data:`THRESHOLD_DB` against ``previous`` (the result it replaces)."""
    history = list((previous or {}).get("republished", []))
    if previous is None:
        return history
    cells = moved(previous, result)
    if cells:
        history.append({"date": datetime.date.today().isoformat(), "previous_key": previous.get("key"),
                        "moved": cells, "why": causes(previous, result)})
    return history


def republication_note(result: dict[str, Any]) -> str:
    """The lines closing a section: each republication, with what moved and why."""
    return "".join(f"\n\n_Republished {r['date']}: numbers moved by more than {THRESHOLD_DB:g} dB against the "
                   f"result it replaces ({'; '.join(r['moved'])}), because {r['why']}._"
                   for r in result.get("republished", []))


__all__ = ["THRESHOLD_DB", "causes", "moved", "psnr_means", "republication", "republication_note"]
