"""The report section of the ``priors`` experiment: one table per setting and the verdicts.

Every row is one prior under the protocol of Figures 9 and 10 (tuned on 20 images,
tested on 100, the same noise).  The verdicts compare the best new prior with TV and with
the best of the paper's generators, against the targets of issue 23 (MNIST: TV + 3 dB,
Shapes: TV + 4 dB), and state what each costs; the words are made from the numbers.
"""

from __future__ import annotations

from typing import Any

from genprior.experiments.paper.tables import chosen_text

TARGET_DB = {"mnist": 3.0, "shapes": 4.0}  # the margins over TV
NEW_METHODS = ("pnp", "red", "diffpir", "ddrm", "dps")


def rows(result: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any], dict[str, Any]]]:
    """``(prior, method, start, cell, model facts)`` for every row of one setting, paper's rows first."""
    read, encoder, new, facts = result["read"], result["encoder"], result["new"], result["facts"]
    none: dict[str, Any] = {}
    out = [("TV", "tv", "-", read["tv"], none), ("Tikhonov", "tikhonov", "-", read["tikhonov"], none)]
    for method in ("hard", "relaxed"):
        out.append(("VAE, l2", method, "random", read[f"vae-{method}"], facts["vae"]))
    for method in ("hard", "relaxed"):
        out.append(("VAE, l2", method, "encoder", encoder[f"vae-{method}"], facts["vae"]))
    for method in ("hard", "relaxed"):
        vae_flow = {**facts["vae"], "parameters": facts["vae"]["parameters"] + facts["flow"]["parameters"]}
        out.append(("VAE, flow", method, "encoder", new[f"vae-{method}-flow"], vae_flow))
    for method in NEW_METHODS:
        if method in new:
            out.append(("denoiser", method, "A^T y" if method in ("pnp", "red") else "noise", new[method],
                        facts["denoiser"]))
    return out


def ended_text(cell: dict[str, Any]) -> str:
    """``converged/n``, or ``finished/n`` for a method that runs a fixed schedule."""
    n = cell["n_images"]
    ended = cell.get("ended") or {}
    if ended.get("finished"):
        return f"{ended['finished']}/{n} finished"
    return f"{cell['converged']}/{n}"


def nfe_text(cell: dict[str, Any]) -> str:
    nfe = cell.get("nfe")
    return f"{nfe['mean']:.0f}" if nfe else "-"


def table_lines(result: dict[str, Any]) -> list[str]:
    lines = ["| prior | method | start | parameters | PSNR (dB) | SSIM | converged | NFE / image | s / image | "
             "training min | model parameters |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for prior, method, start, cell, facts in rows(result):
        trained = f"{facts['training_minutes']:.1f}" if facts else "-"
        size = f"{facts['parameters']:,}" if facts else "-"
        lines.append(f"| {prior} | {method} | {start} | {chosen_text(cell)} | {cell['psnr']['mean']:.2f} +- "
                     f"{cell['psnr']['std']:.2f} | {cell['ssim']['mean']:.3f} | {ended_text(cell)} | "
                     f"{nfe_text(cell)} | {cell['seconds_per_image']:.3f} | {trained} | {size} |")
    return lines


def priors_verdicts(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per setting: the best new prior (a denoiser method or the flow-prior VAE), the best denoiser
    method, TV, the best of the paper's generator rows (the VAE with the l2 prior), margins, and
    whether the issue's target over TV is met."""
    verdicts = {}
    for dataset, result in results.items():
        table = rows(result)
        tv = result["read"]["tv"]["psnr"]["mean"]
        named = lambda p, m, s: f"{m}" if p == "denoiser" else f"{p} {m} ({s})"  # noqa: E731
        new = [(named(p, m, s), c) for p, m, s, c, f in table if p == "denoiser" or p == "VAE, flow"]
        denoisers = [(m, c) for p, m, s, c, f in table if p == "denoiser"]
        paper = [(named(p, m, s), c) for p, m, s, c, f in table if p == "VAE, l2"]
        best = lambda rows_: max(rows_, key=lambda nc: nc[1]["psnr"]["mean"])  # noqa: E731
        (best_new, cell), (best_denoiser, dcell), (best_paper, pcell) = best(new), best(denoisers), best(paper)
        margin = cell["psnr"]["mean"] - tv
        verdicts[dataset] = {"best_new": best_new, "best_new_psnr": cell["psnr"]["mean"], "tv_psnr": tv,
                             "margin_over_tv": margin, "target_db": TARGET_DB.get(dataset),
                             "target_met": margin >= TARGET_DB.get(dataset, float("inf")),
                             "best_denoiser": best_denoiser, "best_denoiser_psnr": dcell["psnr"]["mean"],
                             "best_generator_row": best_paper, "best_generator_psnr": pcell["psnr"]["mean"],
                             "seconds_per_image": {m: c["seconds_per_image"] for m, c in denoisers}}
    return verdicts


def verdict_text(dataset: str, v: dict[str, Any], hard_seconds: float) -> str:
    met = "meets" if v["target_met"] else "misses"
    costs = ", ".join(f"{m} {s * 100:.0f} s" for m, s in v["seconds_per_image"].items())
    return (f"**Verdict ({dataset}).** The best new prior, `{v['best_new']}`, reaches {v['best_new_psnr']:.2f} dB: "
            f"{v['margin_over_tv']:+.2f} dB over TV ({v['tv_psnr']:.2f} dB), which {met} the target of TV + "
            f"{v['target_db']:g} dB, and {v['best_new_psnr'] - v['best_generator_psnr']:+.2f} dB against the best "
            f"of the paper's generator rows ({v['best_generator_row']}, {v['best_generator_psnr']:.2f} dB). The best "
            f"denoiser method, `{v['best_denoiser']}`, reaches {v['best_denoiser_psnr']:.2f} dB "
            f"({v['best_denoiser_psnr'] - v['tv_psnr']:+.2f} dB over TV). Cost of 100 test images at the chosen "
            f"parameters (wall time on the shared machine): {costs} (the VAE's hard from random codes: "
            f"{hard_seconds * 100:.0f} s).")


def priors_markdown(ctx, setups, results: dict[str, dict[str, Any]]) -> str:
    from genprior.experiments.paper.priors import SAMPLES

    p = ctx.protocol
    verdicts = priors_verdicts(results)
    lines = ["## Beyond the paper: denoiser and diffusion priors beside the paper's generators", "",
             "Every prior on Figures 9 and 10's problems under one protocol: "
             f"{p.describe()}. TV, Tikhonov and the VAE's l2 rows are read from the finished `fig9`/`fig10` "
             "(random codes) and `encoder` (the encoder's code) experiments, so they are the same numbers as "
             "there. New rows: the VAE with the `flow` latent prior (`-log p(z)` of a normalising flow fitted to "
             "the encoder's codes of the training images, in place of `mu ||z||^2`), and a noise-conditional "
             "denoiser `D(x, sigma)` (compact UNet, EDM preconditioning) trained on the same training images, "
             f"driving pnp, red, diffpir, ddrm (operators with an exact SVD) and dps; the samplers average {SAMPLES} "
             "posterior samples per image. 'converged' counts images whose stopping rule fired; pnp and the "
             "samplers run a fixed schedule ('finished'). NFE: network evaluations per image (samples included). "
             "Training minutes are the wall time recorded in each model's checkpoint (a shared 2-core machine); model "
             "parameters count the whole trained model (the VAE's encoder and decoder, plus the flow where used; a "
             "weight average's copy not counted). "
             "PSNR with data range 1.", ""]
    for setup in setups:
        dataset = setup.table.dataset
        result = results[dataset]
        lines += [f"### {setup.title}", "", *table_lines(result), "",
                  verdict_text(dataset, verdicts[dataset], result["read"]["vae-hard"]["seconds_per_image"]), "",
                  f"![examples: {', '.join(setup.denoiser_methods)} and the VAE's hard with the flow prior]"
                  f"({ctx.directory.name}/examples-{dataset}.png)", ""]
    return "\n".join(lines)


__all__ = ["priors_markdown", "priors_verdicts"]
