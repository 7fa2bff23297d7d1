"""The claims of the paper's experiments sections, each with our verdict, gathered in one table.

An experiment returns ``"claims"``: a list of :func:`claim` records; ``REPORT.md`` opens
with all of them in one table (:func:`claims_table`), so a reader sees at a glance where
the reproduction agrees with the paper, where it does not and what it does not test.
Each record states the paper's claim, our measurement and the rule that decides
"agrees" (a threshold such as "within 1 dB" is part of the text, not hidden).  A claim
that differs says why, and, where our set-up could be the cause, which check isolates
it; a claim we cannot test says why not.  The rules live in the experiments that
measure them (their modules are part of the code fingerprint, so a changed rule makes
the reports again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

VERDICTS = {True: "agrees", False: "**differs**", None: "not tested"}


def claim(figure: str, paper: str, ours: str, agrees: bool | None, cause: str = "") -> dict[str, Any]:
    """One claim: where it is (``"Figure 9"``), what the paper says, what we measured, the verdict
    (``None``: not tested, ``ours`` says why) and, for a claim that differs, its cause and the check
    that isolates it (``cause`` is dropped for a claim that agrees or is not tested)."""
    verdict = None if agrees is None else bool(agrees)
    return {"figure": figure, "paper": paper, "ours": ours, "agrees": verdict, "cause": cause if verdict is False else ""}


def not_tested(figure: str, paper: str, why: str) -> dict[str, Any]:
    """A claim the reproduction does not test, and why."""
    return claim(figure, paper, why, None)


def claims_table(results: list[dict[str, Any]], unfinished: Sequence[str] = ()) -> str:
    """The claims of ``results`` (finished experiments, in the paper's order) as a markdown table;
    ``unfinished`` names the experiments still to run (their claims are not in the count)."""
    rows = [c for r in results for c in r.get("claims", [])]
    if not rows:
        return ""
    counts = {verdict: sum(c["agrees"] is verdict for c in rows) for verdict in (True, False, None)}
    tally = f"{counts[True]} agree, {counts[False]} differ, {counts[None]} not tested"
    count = (f"{len(rows)} claims so far: {tally} ({', '.join(unfinished)} still to run)" if unfinished
             else f"{len(rows)} claims of the paper's experiments sections (4.3 and 5): {tally}")
    lines = ["## The paper's claims at a glance", "",
             f"{count}. Each section below gives the numbers and the protocol.", "",
             "| where | the paper | ours | verdict | cause of a difference; the check that isolates it |",
             "|---|---|---|---|---|"]
    cell = lambda text: text.replace("|", "\\|")  # noqa: E731  (a norm |z| inside a table cell)
    lines += [f"| {cell(c['figure'])} | {cell(c['paper'])} | {cell(c['ours'])} | {VERDICTS[c['agrees']]} | "
              f"{cell(c.get('cause', ''))} |" for c in rows]
    return "\n".join(lines)
