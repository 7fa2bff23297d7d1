"""Figures 1-6: AE, VAE and WGAN-GP on MNIST (latent 4, 8, 16) and Shapes (5, 10, 20).

Each data set's nine generators go through the report card (``genprior evaluate``,
:func:`genprior.evaluation.report.write_report`): A1 test-set reconstruction (Figure 1
NRMSE distributions, Figure 2 example fits), A3 EMD to the data (Figure 3), the latent
codes against N(0, I) (Figure 4), far-from-prior samples (Figure 5) and interpolation
grids (Figure 6).  The section tabulates A1 and EMD against the latent size and links the
report card's figures.  The paper: AE and VAE nearly identical on A1 and the GAN worse;
the VAE has the lowest EMD.
"""

from __future__ import annotations

from typing import Any

from genprior.experiments.paper.runner import Context

LATENTS = {"mnist": (4, 8, 16), "shapes": (5, 10, 20)}
KINDS = ("ae", "vae", "gan")
FIGURES = [("Figure 1: A1 NRMSE distributions", "a1_nrmse.png"), ("Figure 2: example fits", "a1_examples.png"),
           ("Figure 3: EMD to the data", "a3_emd.png"), ("Figure 4: latent codes against N(0, I)", "b2_latent.png"),
           ("Figure 5: far-from-prior samples", "b2_far_from_prior.png"),
           ("Figure 6: interpolation", "b1_interpolation.png")]


def latents(ctx: Context, dataset: str) -> tuple[int, ...]:
    """The latent sizes of the sweep (quick mode: only the main one)."""
    return LATENTS[dataset][1:2] if ctx.assets.quick else LATENTS[dataset]


def _evaluate(ctx: Context, dataset: str) -> dict[str, Any]:
    from genprior.evaluation.report import EvaluationSettings, write_report

    data = ctx.assets.data(dataset)
    models = {f"{kind}-{d}": ctx.assets.model(dataset, kind, d) for d in latents(ctx, dataset) for kind in KINDS}
    settings = EvaluationSettings.quick(n=min(20, data["test"].shape[0]), emd_n=min(20, data["test"].shape[0]),
                                        mem_n=10, off_n=5, examples=4) if ctx.assets.quick \
        else EvaluationSettings(n=1000, emd_n=10_000)
    metrics = write_report(models, data["test"], ctx.directory / dataset, train=data["train"], settings=settings,
                           data_info={"dataset": dataset}, log=ctx.assets.log)
    return {name: {"a1_median_nrmse": m["A1"]["nrmse"]["median"], "a1_converged": m["A1"].get("converged_fraction"),
                   "emd": (m.get("A3", {}).get("emd") or {}).get("emd")} for name, m in metrics["models"].items()}


def generators(ctx: Context) -> dict[str, Any]:
    results = {dataset: ctx.part(dataset, lambda dataset=dataset: _evaluate(ctx, dataset)) for dataset in LATENTS}
    lines = ["## Figures 1-6: the generators (AE, VAE, WGAN-GP) as priors", "",
             "Each data set's nine generators (compact preset, the recipes of `genprior train`) through the report "
             "card (`genprior evaluate`): A1 median NRMSE of the fitted test images (lower is better) and the exact "
             "EMD between test images and samples (lower is better), against the latent size. The paper: AE and VAE "
             "nearly identical on A1, the GAN worse; the VAE has the lowest EMD.", ""]
    verdicts = []
    for dataset, res in results.items():
        sizes = latents(ctx, dataset)
        lines += [f"### {dataset}", "", "| generator | " + " | ".join(f"latent {d}" for d in sizes) + " |",
                  "|---|" + "---:|" * len(sizes)]
        for kind in KINDS:
            cells = []
            for d in sizes:
                r = res[f"{kind}-{d}"]
                emd = f"{r['emd']:.2f}" if r["emd"] is not None else "-"
                cells.append(f"A1 {r['a1_median_nrmse']:.3f}, EMD {emd}")
            lines.append(f"| {kind.upper()} | " + " | ".join(cells) + " |")
        lines.append("")
        for title, png in FIGURES:
            lines.append(f"{title} ({dataset}): ![{title}]({ctx.directory.name}/{dataset}/{png})")
        lines.append("")
        gan_worse = all(res[f"gan-{d}"]["a1_median_nrmse"] > max(res[f"ae-{d}"]["a1_median_nrmse"],
                                                                  res[f"vae-{d}"]["a1_median_nrmse"])
                        for d in sizes)
        emds = {k: res[f"{k}-{LATENTS[dataset][1]}"]["emd"] for k in KINDS}
        vae_lowest = None not in emds.values() and min(emds, key=emds.get) == "vae"
        verdicts.append(f"{dataset}: GAN worst on A1 at every latent size: {'yes' if gan_worse else 'no'}; "
                        f"VAE lowest EMD at the main latent size: {'yes' if vae_lowest else 'no'}.")
    lines += ["Verdicts (the paper: yes, yes): " + " ".join(verdicts)]
    return {"results": results, "markdown": "\n".join(lines)}
