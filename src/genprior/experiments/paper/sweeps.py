"""Beyond the paper: PSNR against the number of measurements and against the noise level.

``measurements``: MNIST compressed sensing with m in {25, 50, 100, 200, 300, 500, 750},
sigma 0.05: the VAE's hard and relaxed methods against TV and Tikhonov (the curve Bora et
al. made famous: a generator wins at few measurements, a classical prior catches up).
``noise``: Shapes tomography with sigma in {0.025, ..., 0.4}: every method.  Each point
follows the paper's protocol (:mod:`.protocol`).
"""

from __future__ import annotations

from typing import Any

from genprior.experiments.paper.protocol import run_cell
from genprior.experiments.paper.runner import Context
from genprior.experiments.paper.tables import split

MEASUREMENTS = (25, 50, 100, 200, 300, 500, 750)
NOISES = (0.025, 0.05, 0.1, 0.2, 0.4)
QUICK_MEASUREMENTS = (25, 100)
QUICK_NOISES = (0.05, 0.2)
MEASUREMENT_METHODS = ("hard", "relaxed", "tv", "tikhonov")
NOISE_METHODS = ("hard", "relaxed", "sparse", "tv", "tikhonov")
LATENTS = {"mnist": 8, "shapes": 10}  # the VAE of Figures 9 and 10
SIGMA_CS = 0.05


def _sweep(ctx: Context, dataset: str, latent: int, points: list[tuple[str, str, dict, float]],
           methods: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Every (point, method) cell; ``points`` are ``(cell label, value shown, operator options, noise)``."""
    from genprior.physics.problems import make_operator

    tune, test, indices = split(ctx, dataset)
    problem = "cs" if dataset == "mnist" else "tomography"
    cells = {}
    for label, _, options, noise in points:
        physics = make_operator(problem, int(test.shape[-1]), **options)
        for method in methods:
            key = f"{method}-{label}"

            def compute(method=method, physics=physics, noise=noise):
                generative = method not in ("tv", "tikhonov")
                G = ctx.assets.model(dataset, "vae", latent) if generative else None
                record, _ = run_cell(physics, tune, test, indices, method, G, noise, ctx.protocol)
                return record

            cells[key] = ctx.part(key, compute)
    return cells


def _plot(ctx: Context, cells: dict, xs: list, labels: list[str], methods: tuple[str, ...], xlabel: str,
          name: str, title: str) -> None:
    from genprior.figures import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for method in methods:
        means = [cells[f"{method}-{label}"]["psnr"]["mean"] for label in labels]
        stds = [cells[f"{method}-{label}"]["psnr"]["std"] for label in labels]
        ax.errorbar(xs, means, yerr=stds, marker="o", ms=3, capsize=2, label=method)
    ax.set_xscale("log")
    ax.set_xticks(xs, [f"{x:g}" for x in xs])  # the points themselves, not log-scale minor labels
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("PSNR (dB, data range 1)")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, ctx.directory / name)


def _table(cells: dict, labels: dict[str, str], methods: tuple[str, ...], head: str) -> list[str]:
    """Mean PSNR (converged solves) per point and method, then the choices left on a grid edge.
    ``labels`` maps each point's cell label (``s0.1``) to the value shown (``0.1``)."""
    from genprior.experiments.paper.tables import chosen_text

    lines = [f"| {head} | " + " | ".join(methods) + " |", "|---:|" + "---:|" * len(methods)]
    for label, shown in labels.items():
        row = [f"{cells[f'{m}-{label}']['psnr']['mean']:.2f} ({cells[f'{m}-{label}']['converged']}/"
               f"{cells[f'{m}-{label}']['n_images']})" for m in methods]
        lines.append(f"| {shown} | " + " | ".join(row) + " |")
    edges = [f"{m} at {head} = {shown}: {chosen_text(cells[f'{m}-{label}'])}" for label, shown in labels.items()
             for m in methods if cells[f"{m}-{label}"]["edge"]]
    lines += ["", "Choices on an edge of the extended grid: " + ("; ".join(edges) if edges else "none") + "."]
    return lines


def _crossover(cells: dict, labels: dict[str, str], head: str, generative: tuple[str, ...],
               classical: tuple[str, ...]) -> str:
    """The points where the best classical method beats the best generative one, in words."""
    mean = lambda method, label: cells[f"{method}-{label}"]["psnr"]["mean"]  # noqa: E731
    ahead = []
    for label, shown in labels.items():
        best_g = max(generative, key=lambda m: mean(m, label))
        best_c = max(classical, key=lambda m: mean(m, label))
        if mean(best_c, label) > mean(best_g, label):
            ahead.append(f"{head} = {shown} ({best_c} {mean(best_c, label):.2f} against {best_g} "
                         f"{mean(best_g, label):.2f} dB)")
    if not ahead:
        return "the best generative method stays ahead of the classical ones at every point"
    return "the best classical method is ahead of the best generative one at " + ", ".join(ahead)


def measurements(ctx: Context) -> dict[str, Any]:
    ms = QUICK_MEASUREMENTS if ctx.assets.quick else MEASUREMENTS
    methods = MEASUREMENT_METHODS
    points = [(f"m{m}", f"{m}", {"measurements": m}, SIGMA_CS) for m in ms]
    labels = {label: shown for label, shown, *_ in points}
    cells = _sweep(ctx, "mnist", LATENTS["mnist"], points, methods)
    _plot(ctx, cells, list(ms), list(labels), methods, "measurements m", "psnr_vs_m.png",
          "MNIST compressed sensing, sigma 0.05 (VAE for hard and relaxed)")
    lines = ["## Beyond the paper: PSNR against the number of measurements (MNIST CS, sigma 0.05)", "",
             f"Protocol of Figure 9 at every m: {ctx.protocol.describe()}. VAE with latent 8. Mean PSNR (dB, range "
             "1) and converged solves. Expected (Bora et al. 2017): the generator ahead at small m, the classical "
             "methods catching up as m grows.", ""]
    lines += _table(cells, labels, methods, "m")
    lines += ["", f"Crossover: {_crossover(cells, labels, 'm', ('hard', 'relaxed'), ('tv', 'tikhonov'))}."]
    lines += ["", f"![PSNR against m]({ctx.directory.name}/psnr_vs_m.png)"]
    return {"cells": cells, "markdown": "\n".join(lines)}


def noise(ctx: Context) -> dict[str, Any]:
    sigmas = QUICK_NOISES if ctx.assets.quick else NOISES
    methods = NOISE_METHODS
    points = [(f"s{s:g}", f"{s:g}", {}, s) for s in sigmas]
    labels = {label: shown for label, shown, *_ in points}
    cells = _sweep(ctx, "shapes", LATENTS["shapes"], points, methods)
    _plot(ctx, cells, list(sigmas), list(labels), methods, "noise sigma", "psnr_vs_sigma.png",
          "Shapes tomography (VAE for the generative methods)")
    lines = ["## Beyond the paper: PSNR against the noise level (Shapes tomography)", "",
             f"Protocol of Figure 10 at every sigma: {ctx.protocol.describe()}. VAE with latent 10. Mean PSNR (dB, "
             "range 1) and converged solves.", ""]
    lines += _table(cells, labels, methods, "sigma")
    crossover = _crossover(cells, labels, "sigma", ("hard", "relaxed", "sparse"), ("tv", "tikhonov"))
    lines += ["", f"Classical against generative: {crossover}."]
    lines += ["", f"![PSNR against sigma]({ctx.directory.name}/psnr_vs_sigma.png)"]
    return {"cells": cells, "markdown": "\n".join(lines)}


__all__ = ["measurements", "noise"]
