"""The paper's qualitative claims, each checked by the experiment that reproduces it.

An experiment returns ``"claims"``: a list of :func:`claim` records; ``REPORT.md`` opens
with all of them in one table (:func:`claims_table`), so a reader sees at a glance where
the reproduction agrees with the paper and where it does not.  Each record states the
paper's claim, our measurement and the rule that decides "agrees" (a threshold such as
"within 1 dB" is part of the claim's text, not hidden).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def claim(figure: str, paper: str, ours: str, agrees: bool) -> dict[str, Any]:
    """One claim: where it is (``"Figure 9"``), what the paper says, what we measured, the verdict."""
    return {"figure": figure, "paper": paper, "ours": ours, "agrees": bool(agrees)}


def claims_table(results: list[dict[str, Any]], unfinished: Sequence[str] = ()) -> str:
    """The claims of ``results`` (finished experiments, in the paper's order) as a markdown table;
    ``unfinished`` names the experiments still to run (their claims are not in the count)."""
    rows = [c for r in results for c in r.get("claims", [])]
    if not rows:
        return ""
    agree = sum(c["agrees"] for c in rows)
    count = (f"{agree} of {len(rows)} claims checked so far agree ({', '.join(unfinished)} still to run)"
             if unfinished else f"{agree} of the {len(rows)} claims checked agree")
    lines = ["## The paper's claims at a glance", "",
             f"{count}; each section below gives the numbers and the protocol.", "",
             "| where | the paper | ours | verdict |", "|---|---|---|---|"]
    lines += [f"| {c['figure']} | {c['paper']} | {c['ours']} | {'agrees' if c['agrees'] else '**differs**'} |"
              for c in rows]
    return "\n".join(lines)


def competitive_claims(figure: str, problem: str, means: dict[str, float], kinds: Sequence[str],
                       margin_db: float = 1.0) -> list[dict[str, Any]]:
    """Figures 9 and 10: AE/VAE competitive with TV (best AE/VAE method at most ``margin_db``
    below TV), the GAN clearly worse (its best method more than ``margin_db`` below the best
    AE/VAE method).

    Args:
        means: ``"<generator kind>-<method>"`` or ``"tv"`` -> mean PSNR.
        kinds: the generator kinds of the table.  A claim is checked only where the table has
            what it speaks of (an AE or a VAE, and TV; for the second, a GAN too), so a table of
            other kinds gets only the claims that apply to it.
    """
    best = {kind: max((v, k) for k, v in means.items() if k.startswith(f"{kind}-")) for kind in kinds}
    ae_vae = max((best[k] for k in ("ae", "vae") if k in best), default=None)
    if ae_vae is None or "tv" not in means:
        return []
    tv = means["tv"]
    claims = [claim(figure, f"AE/VAE priors are competitive with TV on {problem}",
                    f"best AE/VAE {ae_vae[1]} {ae_vae[0]:.2f} dB, TV {tv:.2f} dB ({ae_vae[0] - tv:+.2f}; competitive: "
                    f"at most {margin_db:g} dB below)", ae_vae[0] >= tv - margin_db)]
    if "gan" in best:
        claims.append(claim(figure, f"the GAN prior is clearly worse than AE/VAE on {problem}",
                            f"best GAN {best['gan'][1]} {best['gan'][0]:.2f} dB against {ae_vae[0]:.2f} dB "
                            f"({best['gan'][0] - ae_vae[0]:+.2f}; clearly: more than {margin_db:g} dB)",
                            best["gan"][0] < ae_vae[0] - margin_db))
    return claims
