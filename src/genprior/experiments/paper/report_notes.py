"""Notes under a finished experiment's section of ``REPORT.md``: accepted code changes, code changed
since it ran, and a section kept from other settings (stale)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genprior.experiments.paper.runner import Experiment


def code_note(result: dict[str, Any], experiment: Experiment | None) -> str:
    """A line for a section whose code changed since it ran (an experiment not run now), and the
    accepted code changes of its result."""
    from genprior.experiments.paper.provenance import changed_modules, fingerprint

    notes = [f"settings key carried over {c['date']} from the old key scheme ({c['from_key']}): {c['reason']}"
             if "from_key" in c else f"code change accepted {c['date']} ({c['reason']}): {', '.join(c['modules'])}"
             for c in result.get("code_changes", [])]
    if experiment is not None:
        changed = changed_modules(result.get("code"), fingerprint(experiment.run.__module__))
        if changed:
            notes.append(f"**the code changed since this ran** ({', '.join(changed)}): run `genprior paper "
                         f"{experiment.name}` to recompute it or to accept the change")
    return "".join(f"\n\n_{note}._" for note in notes)


def stale_section(result: dict[str, Any], key: str) -> str:
    """The section of a result computed under other settings than the current ones (settings key
    ``key``): kept, marked stale below its heading; the caller leaves its claims out of the claims table."""
    heading, _, rest = result["markdown"].partition("\n")
    note = (f"_**Stale: computed under other settings** than the current code states (settings key "
            f"{result.get('key')}; now {key}): its numbers and figures are the earlier set-up's, and its claims "
            f"are not in the table at the top. `genprior paper {result['name']}` recomputes it._")
    return f"{heading}\n\n{note}\n{rest}"
