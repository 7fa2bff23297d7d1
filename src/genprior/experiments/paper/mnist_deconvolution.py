"""Figures 7 and 8: MNIST deconvolution (5x5 Gaussian blur, sigma 0.1).

Figure 7: one image, one noise realisation, the 8-d GAN: the data discrepancy
``||A x_lam - y||`` against ``lam`` for hard, relaxed and sparse (one line per ``mu``)
and Tikhonov, with the Morozov level ``sigma sqrt(m)``; image panels at the ``lam``
whose discrepancy is closest to that level.  Figure 8: the hard method from three
random starts for AE, VAE and GAN, every start shown, and the spread of PSNR across
the starts over the test images.
"""

from __future__ import annotations

from typing import Any

import torch

from genprior.experiments.paper.claims import claim
from genprior.experiments.paper.runner import Context, pixels
from genprior.experiments.paper.tables import split

NOISE = 0.1
LATENT = 8


def _problem(ctx: Context):
    from genprior.physics.problems import make_operator

    return make_operator("deconvolution", 28)


def fig7(ctx: Context) -> dict[str, Any]:
    from genprior.choice.grids import default_grid
    from genprior.choice.tuning import solve_grid
    from genprior.experiments.reconstruction import measure
    from genprior.figures import pyplot, save_figure
    from genprior.metrics import psnr
    from genprior.physics.noise import expected_noise_norm

    physics = _problem(ctx)
    _, test, _ = split(ctx, "mnist")
    x = test[:1]
    y = measure(physics, x, NOISE, seed=0)
    level = expected_noise_norm(NOISE, y[0].numel())
    G = ctx.assets.model("mnist", "gan", LATENT)
    mus = [1.0, 0.0625, 0.0039]

    def curve(method: str, mu: float | None) -> dict[str, Any]:
        lams = default_grid(method, 28)["lam"]
        if ctx.assets.quick:
            lams = lams[:: max(1, len(lams) // 3)]
        grid = {"lam": lams, **({"mu": [mu]} if mu is not None else {})}
        sol = solve_grid(physics, y, method, grid, G if method != "tikhonov" else None, keep_x=True,
                         **ctx.protocol.solver_options(method))
        xs = sol.x[:, 0]
        return {"method": method, "mu": mu, "lam": lams, "residual": sol.residual[:, 0].tolist(),
                "psnr": psnr(xs.to(x.dtype), x.expand_as(xs)).tolist(), "converged": sol.converged[:, 0].tolist(),
                "x": pixels(xs.reshape(len(lams), -1))}

    curves = {}
    for method, mu in [("hard", None), ("tikhonov", None)] + [(m, mu) for m in ("relaxed", "sparse") for mu in mus]:
        key = method if mu is None else f"{method}-mu{mu:g}"
        curves[key] = ctx.part(key, lambda method=method, mu=mu: curve(method, mu))
    plt = pyplot()
    fig = plt.figure(figsize=(10, 6))
    ax = fig.add_subplot(2, 1, 1)
    styles = {"hard": "C0", "relaxed": "C1", "sparse": "C2", "tikhonov": "C3"}
    for key, c in curves.items():
        ax.plot(c["lam"], c["residual"], marker="o" if c["mu"] in (None, mus[0]) else "x", ms=3,
                color=styles[c["method"]], alpha=1.0 if c["mu"] in (None, mus[0]) else 0.5, label=key)
    ax.axhline(level, color="black", lw=1, label="sigma sqrt(m)")
    ax.set_xscale("log")
    ax.set_xlabel("lam")
    ax.set_ylabel("||A x - y||")
    ax.legend(fontsize=6, ncol=3)
    chosen = {}
    for i, key in enumerate(("hard", f"relaxed-mu{mus[0]:g}", f"sparse-mu{mus[0]:g}", "tikhonov")):
        c = curves[key]
        k = min(range(len(c["lam"])), key=lambda j: abs(c["residual"][j] - level))
        chosen[key] = {"lam": c["lam"][k], "residual": c["residual"][k], "psnr": c["psnr"][k]}
        a = fig.add_subplot(2, 5, 6 + i)
        a.imshow(torch.tensor(c["x"][k]).reshape(28, 28).numpy(), cmap="gray", vmin=0, vmax=1)
        a.set_title(f"{key}\nlam {c['lam'][k]:.3g}: {c['psnr'][k]:.1f} dB", fontsize=6)
        a.axis("off")
    a = fig.add_subplot(2, 5, 10)
    a.imshow(x[0, 0].numpy(), cmap="gray", vmin=0, vmax=1)
    a.set_title("truth", fontsize=6)
    a.axis("off")
    fig.tight_layout()
    save_figure(fig, ctx.directory / "discrepancy.png")
    lines = ["## Figure 7: the data discrepancy against lam (MNIST deconvolution, sigma 0.1, 8-d GAN)", "",
             f"One test image, one noise realisation; the Morozov level sigma sqrt(m) = {level:.3f}. Generative "
             f"methods start from {ctx.protocol.start}, every solve runs to its stopping rule. The panels show "
             "each method at the lam whose discrepancy is closest to it. The paper: the hard method's discrepancy "
             "stays above the level (the data are not in the range of A G), relaxed and sparse reach it.", "",
             "| method | lam at the Morozov level | discrepancy | PSNR (dB) | smallest discrepancy on the grid | "
             "converged (grid points) |",
             "|---|---:|---:|---:|---:|---:|"]
    for key, c in chosen.items():
        converged = curves[key]["converged"]
        lines.append(f"| {key} | {c['lam']:.3g} | {c['residual']:.3f} | {c['psnr']:.2f} | "
                     f"{min(curves[key]['residual']):.3f} | {sum(converged)}/{len(converged)} |")
    hard_above = min(curves["hard"]["residual"]) > level
    lines += ["", f"Hard stays above the level on the whole grid: {'yes' if hard_above else 'no'} "
              "(the paper: yes).", "", f"![discrepancy]({ctx.directory.name}/discrepancy.png)"]
    smallest = {key: min(curves[key]["residual"]) for key in chosen}
    reach = [key for key in chosen if key.startswith(("relaxed", "sparse"))]
    claims = [claim("Figure 7", "the hard method's discrepancy stays above the Morozov level; relaxed and sparse "
                                "reach it", f"smallest discrepancy: hard {smallest['hard']:.2f}, "
                    + ", ".join(f"{k} {smallest[k]:.2f}" for k in reach) + f"; level {level:.2f}",
                    hard_above and all(smallest[k] <= level for k in reach))]
    return {"level": level, "chosen": chosen, "hard_above_level": hard_above, "claims": claims,
            "curves": {k: {kk: vv for kk, vv in v.items() if kk != "x"} for k, v in curves.items()},
            "markdown": "\n".join(lines)}


def fig8(ctx: Context) -> dict[str, Any]:
    from genprior.experiments.paper.protocol import coarse_grid, on_edge, search_extending
    from genprior.experiments.reconstruction import measure
    from genprior.figures import pyplot, save_figure
    from genprior.methods import hard
    from genprior.metrics import psnr

    physics = _problem(ctx)
    tune, test, _ = split(ctx, "mnist")
    y_tune, y = measure(physics, tune, NOISE, seed=1), measure(physics, test, NOISE, seed=0)
    options = {**ctx.protocol.solver_options("hard"), "init": "random"}  # the figure is about random starts
    starts = (0, 1, 2)

    def kind_part(kind: str) -> dict[str, Any]:
        G = ctx.assets.model("mnist", kind, LATENT)
        search = search_extending(physics, y_tune, tune, "hard", coarse_grid("hard", 28, ctx.protocol.coarse_values),
                                  G, ctx.protocol.edge_extensions, **options)
        lam = search["best"]["lam"]
        runs = [hard(physics, y, G, lam=lam, seed=s, **options) for s in starts]
        scores = torch.stack([psnr(r.x.to(test.dtype), test) for r in runs])  # [3, n]
        return {"lam": lam, "edge": on_edge(search["grid"], search["best"]), "grid": search["grid"]["lam"],
                "psnr": scores.tolist(), "converged": [r.n_converged for r in runs],
                "examples": [pixels(r.x[:3].reshape(3, -1)) for r in runs]}

    parts = {kind: ctx.part(kind, lambda kind=kind: kind_part(kind)) for kind in ("ae", "vae", "gan")}
    plt = pyplot()
    n_show = min(3, test.shape[0])
    fig, axes = plt.subplots(n_show, 10, figsize=(12, 1.4 * n_show + 0.4), squeeze=False)
    for i in range(n_show):
        axes[i, 0].imshow(test[i, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        axes[i, 0].set_title("truth", fontsize=6)
        for j, kind in enumerate(("ae", "vae", "gan")):
            for s in starts:
                a = axes[i, 1 + 3 * j + s]
                image = torch.tensor(parts[kind]["examples"][s][i]).reshape(28, 28).numpy()
                a.imshow(image, cmap="gray", vmin=0, vmax=1)
                a.set_title(f"{kind.upper()} start {s}: {parts[kind]['psnr'][s][i]:.1f}", fontsize=6)
    for a in axes.flat:
        a.axis("off")
    fig.tight_layout()
    save_figure(fig, ctx.directory / "starts.png")
    lines = ["## Figure 8: the hard method from three random starts (MNIST deconvolution, sigma 0.1)", "",
             f"lam tuned per generator on {ctx.protocol.n_tune} images (the coarse grid of the tables, extended past "
             f"an edge up to {ctx.protocol.edge_extensions} times); {test.shape[0]} test images, each solved "
             "from three starts z ~ N(0, I) (every start shown, not only the best). Spread: the PSNR range across "
             "the three starts of an image. The paper: the starts give visibly different digits, more so for the "
             "GAN.", "",
             "| generator | lam | PSNR per start (mean, dB) | mean spread (dB) | images with spread > 3 dB "
             "| converged |",
             "|---|---:|---|---:|---:|---|"]
    for kind, p in parts.items():
        scores = torch.tensor(p["psnr"])
        spread = scores.max(0).values - scores.min(0).values
        edge = " (grid edge)" if p["edge"] else ""
        lines.append(f"| {kind.upper()} | {p['lam']:.3g}{edge} | "
                     + " / ".join(f"{v:.2f}" for v in scores.mean(1).tolist())
                     + f" | {spread.mean():.2f} | {int((spread > 3).sum())}/{scores.shape[1]} | "
                     + " / ".join(str(c) for c in p["converged"]) + " |")
    lines += ["", f"![starts]({ctx.directory.name}/starts.png)"]
    spreads = {}
    for kind, p in parts.items():
        scores = torch.tensor(p["psnr"])
        spreads[kind] = float((scores.max(0).values - scores.min(0).values).mean())
    claims = [claim("Figure 8", "random starts give different reconstructions, the GAN's most",
                    "mean spread across three starts: "
                    + ", ".join(f"{k.upper()} {v:.2f} dB" for k, v in spreads.items()),
                    max(spreads, key=spreads.get) == "gan" and min(spreads.values()) > 0)]
    return {"parts": {k: {kk: vv for kk, vv in v.items() if kk != "examples"} for k, v in parts.items()},
            "claims": claims, "markdown": "\n".join(lines)}
