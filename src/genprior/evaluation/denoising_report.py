"""The denoiser section of the report card: runs :mod:`genprior.evaluation.denoising` for
the denoisers of a report, draws its two figures and renders its Markdown from the JSON.

``metrics["denoising"]`` holds the settings, the reference (noisy inputs and TV at each
level) and, per denoiser, its PSNR at each level and what became of its samples.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from torch import Tensor, nn

from genprior.evaluation.denoising import (
    DenoisingSettings,
    Sampler,
    check_denoiser_fits,
    denoising_reference,
    evaluate_denoiser,
)

FIGURES = {"denoising_psnr": "denoising_psnr.png", "denoising_examples": "denoising_examples.png"}


def denoiser_info(denoiser: nn.Module, path: str | None) -> dict:
    """What the report says about a denoiser: its kind, trained range, size and training steps."""
    config = getattr(denoiser, "checkpoint_config", {}) or {}
    m = config.get("model", {})
    return {"path": path, "kind": m.get("kind", type(denoiser).__name__), "image_size": m.get("image_size"),
            "sigma_min": getattr(denoiser, "sigma_min", None), "sigma_max": getattr(denoiser, "sigma_max", None),
            "parameters": sum(p.numel() for p in denoiser.parameters() if p.requires_grad),  # not the average
            "training_steps": (config.get("training") or {}).get("steps_done")}


def denoiser_report(denoisers: dict[str, nn.Module], test: Tensor, out: Path, settings: DenoisingSettings | None,
                    model_paths: dict[str, str] | None = None, log: Callable[[str], None] | None = None,
                    sampler: Sampler | None = None, classifier: nn.Module | None = None) -> tuple[dict, dict[str, Path]]:
    """Evaluate ``denoisers`` (name -> ``D(x, sigma)``) on ``test`` and draw the figures into ``out``.

    Returns:
        ``(metrics["denoising"], {figure key: path})``.
    """
    say = log or (lambda _msg: None)
    s = (settings or DenoisingSettings()).resolved(test.shape[0])
    for name, d in denoisers.items():
        check_denoiser_fits(d, test, s.sigmas, name)
    say(f"denoising reference: noisy inputs and TV (lam tuned on {s.tune_n} images) at sigma "
        + ", ".join(f"{v:g}" for v in s.sigmas))
    reference = denoising_reference(test, s, log=lambda msg: say(f"  {msg}"))
    results = {}
    for name, d in denoisers.items():
        start = time.perf_counter()
        results[name] = evaluate_denoiser(d, test, s, sampler=sampler, classifier=classifier)
        say(f"denoised with {name} in {time.perf_counter() - start:.1f} s: "
            + ", ".join(f"{lv['psnr']:.2f}" for lv in results[name]["summary"]["levels"]) + " dB")
    figs = {k: out / v for k, v in FIGURES.items()}
    psnr_figure(reference["summary"], {m: r["summary"] for m, r in results.items()}, figs["denoising_psnr"])
    examples_figure(test[: s.examples], reference["examples"], {m: r["examples"] for m, r in results.items()},
                    figs["denoising_examples"])
    section = {**reference["summary"],
               "models": {m: {"model": denoiser_info(denoisers[m], (model_paths or {}).get(m)), **r["summary"]}
                          for m, r in results.items()}}
    return section, figs


def psnr_figure(reference: dict, models: dict[str, dict], path: str | os.PathLike) -> Path:
    """PSNR against sigma (log axis): each denoiser, TV and the noisy input."""
    from genprior.figures import pyplot, save_figure

    plt = pyplot()
    sigmas = [lv["sigma"] for lv in reference["levels"]]
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for name, summary in models.items():
        ax.plot(sigmas, [lv["psnr"] for lv in summary["levels"]], "o-", label=name)
    ax.plot(sigmas, [lv["tv"]["psnr"] for lv in reference["levels"]], "s--", color="grey", label="TV (tuned lam)")
    ax.plot(sigmas, [lv["noisy_psnr"] for lv in reference["levels"]], ":", color="black", label="noisy input")
    ax.set_xscale("log")
    ax.set_xticks(sigmas, [f"{v:g}" for v in sigmas])
    ax.minorticks_off()
    ax.set_xlabel("noise level sigma", fontsize=8)
    ax.set_ylabel("PSNR (dB, data range 1)", fontsize=8)
    ax.set_title(f"Denoising {reference['settings']['n']} test images", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def examples_figure(clean: Tensor, reference: dict, models: dict[str, dict], path: str | os.PathLike) -> Path:
    """For every other level a block of rows: noisy, TV, each denoiser; the first row shows the clean images."""
    from genprior.evaluation.report_figures import _show
    from genprior.figures import pyplot, save_figure

    plt = pyplot()
    n = clean.shape[0]
    rows = [("clean", None, clean)]
    shown = list(reference)[::2]  # every other level: 0.025, 0.1, 0.4 of the default five
    for sigma, ref in ((k, reference[k]) for k in shown):
        rows += [(f"noisy {sigma:g}", sigma, ref["noisy"]), (f"TV {sigma:g}", sigma, ref["tv"])]
        rows += [(f"{m} {sigma:g}", sigma, ex[sigma]) for m, ex in models.items()]
    fig, axes = plt.subplots(len(rows), n, figsize=(0.95 * n + 1.4, 0.95 * len(rows)), squeeze=False)
    for r, (label, _, images) in enumerate(rows):
        for c in range(n):
            _show(axes[r][c], images[c].clamp(0, 1))
        axes[r][0].set_ylabel(label, fontsize=6, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return save_figure(fig, path)


def _cell(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def denoising_section(metrics: dict) -> list[str]:
    """The report's denoiser section (Markdown lines) from ``metrics["denoising"]``."""
    d = metrics.get("denoising")
    if not d:
        return []
    s, names = d["settings"], list(d["models"])
    grid = ", ".join(f"{g:.3g}" for g in s["tv_grid"])
    lines = ["## Denoisers: PSNR against the noise level", "",
             f"The first {s['n']:,} test images x, noisy copies y = x + sigma e with the same unit noise e at every "
             f"level (seed {s['seed']}); PSNR of each estimate (dB, data range 1), mean over the images. A denoiser's "
             "estimate is D(y, sigma); TV's is argmin ||x - y||^2 + lam TV(x) (genprior's `tv` method, PDHG to "
             f"convergence) with lam = sigma g, g in {{{grid}}}, the value with the best mean PSNR on the last "
             f"{s['tune_n']} test images (their own noise).", "",
             "| sigma | noisy input | TV (lam) | " + " | ".join(f"`{m}`" for m in names) + " |",
             "|---:|---:|---:|" + "---:|" * len(names)]
    for k, lv in enumerate(d["levels"]):
        tv = lv["tv"]
        flag = " (edge of grid)" if tv["on_edge"] else ""
        cells = [_cell(d["models"][m]["levels"][k]["psnr"]) for m in names]
        lines.append(f"| {lv['sigma']:g} | {_cell(lv['noisy_psnr'])} | {_cell(tv['psnr'])} ({tv['lam']:.3g}{flag}) | "
                     + " | ".join(cells) + " |")
    lines += ["", f"![PSNR against sigma]({metrics['figures'].get('denoising_psnr')}) "
              f"![examples]({metrics['figures'].get('denoising_examples')})", ""]
    for m in names:
        info = d["models"][m]["model"]
        rng = (f"trained on sigma in [{info['sigma_min']:g}, {info['sigma_max']:g}]"
               if info.get("sigma_min") is not None else "")
        samples = d["models"][m]["samples"]
        digits = samples.get("digits")
        text = (f"{samples['n']:,} samples drawn in {samples['seconds']:.0f} s"
                + (f", {100 * digits['confident_share']:.0f}% classified as digits with confidence "
                   f">= 0.9" if digits else "") if "n" in samples else samples.get("note", ""))
        lines.append(f"- `{m}`: {info['kind']}, {info['parameters']:,} parameters"
                     + (f", {info['training_steps']:,} training steps" if info.get("training_steps") else "")
                     + (f", {rng}" if rng else "") + f". Samples: {text}.")
    return lines + ["", f"Time: reference (noisy, TV tuning and solves) {d['seconds']:.0f} s; "
                    + "; ".join(f"`{m}` {d['models'][m]['seconds']:.1f} s" for m in names) + ".", ""]
