"""``report.md`` of the report card, rendered from the ``metrics.json`` dictionary.

Rendering from the JSON alone (no tensors) means a report can be rebuilt, or several
runs merged, without recomputing anything.
"""

from __future__ import annotations

import math
from typing import Any


def _f(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, int):
        return f"{v:,}"
    a = abs(v)
    if a >= 10**digits:
        return f"{v:,.0f}"
    if a != 0 and a < 1e-3:
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}" if a >= 1 else f"{v:.{digits}f}"


def _p(v: float | None) -> str:
    """A probability with two decimals."""
    return "-" if v is None else f"{v:.2f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _a1_solver(s: dict) -> str:
    """How the A1 fits were solved, in words (reports written before the solver was a setting: Algorithm 1)."""
    cap = f"at most {s['max_iter']} iterations"
    if s.get("prune_after") is not None:
        cap += f"; after {s['prune_after']} iterations only each image's best {s['prune_keep']} start(s) went on"
    return {"lbfgs": f"L-BFGS with an Armijo line search and a trust radius on its first steps (the objective and "
                     f"stopping rule of Algorithm 1, {cap})",
            "gauss-newton": f"Gauss-Newton (Levenberg-Marquardt; the stopping rule of Algorithm 1, {cap})",
            }.get(s.get("solver", "backtracking"), f"gradient descent with backtracking (Algorithm 1, {cap})")


def _get(d: dict, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d or d[k] is None:
            return default
        d = d[k]
    return d


def summary_rows(metrics: dict) -> list[tuple[str, str, str, list[str]]]:
    """``(criterion, metric, what is good, one cell per model)`` rows of the comparison table."""
    models = metrics["models"]
    names = list(models)
    s = metrics["settings"]
    rows: list[tuple[str, str, str, list[str]]] = []

    def row(crit: str, metric: str, good: str, fn) -> None:
        rows.append((crit, metric, good, [fn(models[m]) for m in names]))

    row("A1 range coverage", f"NRMSE median [min, max] ({s['n']} test images)", "lower",
        lambda m: f"{_f(m['A1']['nrmse']['median'])} [{_f(m['A1']['nrmse']['min'])}, {_f(m['A1']['nrmse']['max'])}]")
    thresholds = list(next(iter(models.values()))["A1"]["below"])
    row("A1", "images with NRMSE < " + " / ".join(thresholds), "higher",
        lambda m: " / ".join(_pct(m["A1"]["below"][t]) for t in thresholds))
    row("A1", "PSNR of G(z*) (dB, data range 1), mean +- std", "higher",
        lambda m: f"{m['A1']['psnr']['mean']:.2f} +- {m['A1']['psnr']['std']:.2f}")
    row("A1", "start of z*: encoder or best of K random", "-",
        lambda m: m["A1"]["init"] + ("" if m["A1"]["init"] == "encoder" else f" (K = {m['A1']['restarts']})"))
    row("A1", f"fits z* that converged (cap {s['max_iter']} iterations)", "all",
        lambda m: _pct(m["A1"]["converged_fraction"]) if "converged_fraction" in m["A1"] else "-")
    for off in metrics["data"].get("off_distribution_sets", []):
        row("A2 off-distribution", f"{off}: NRMSE median (AUROC vs test)", "higher",
            lambda m, off=off: f"{_f(m['A2'][off]['nrmse']['median'])} ({_p(m['A2'][off].get('auroc'))})")
    row("A3 distance", f"exact EMD, N = {s['emd_n']:,} (mean squared distance)", "lower",
        lambda m: _f(_get(m, "A3", "emd", "emd")) + ("" if _get(m, "A3", "emd", "converged", default=True)
                                                     else " (not converged)"))
    row("A3", f"D x SW2^2, {s['n_projections']} directions (agreement D SW2^2 / EMD)", "lower",
        lambda m: f"{_f(m['A3']['sliced']['scaled'])} ({_p(m['A3'].get('agreement'))})")
    row("B2 latent region", "median ||z*|| / sqrt(d)", "about 1",
        lambda m: _f(m["B2"]["norm_over_sqrt_d"]))
    row("B2", "KS of ||z*||^2 vs chi2(d) (95% under prior: below)", "lower",
        lambda m: f"{_f(m['B2']['ks_norm'])} ({_f(m['B2']['ks_critical'])})")
    row("B2", "largest KS of one coordinate vs N(0, 1)", "lower", lambda m: _f(m["B2"]["ks_marginal_max"]))
    row("B2", "mean abs mean / mean std of coordinates", "0 / 1",
        lambda m: f"{_f(m['B2']['mean_abs_mean'])} / {_f(m['B2']['mean_std'])}")
    row("B2", "KL(N(mean, cov) || N(0, I)) of found codes", "lower", lambda m: _f(m["B2"]["kl_gaussian"]))
    radii = [r["radius_factor"] for r in next(iter(models.values()))["B2_far_from_prior"]["radii"]]
    if all("median_nn_distance" in r for m in models.values() for r in m["B2_far_from_prior"]["radii"]):
        row("B2 far from prior", "median distance to nearest test image at |z| = "
            + ", ".join(f"{r:g}" for r in radii) + " sqrt(d)", "-",
            lambda m: ", ".join(f'{r["median_nn_distance"]:.1f}' for r in m["B2_far_from_prior"]["radii"]))
    row("B1 smoothness", "local Lipschitz median / q95 / max", "lower",
        lambda m: "-" if not m["B1"]["local_lipschitz"] else " / ".join(
            _f(m["B1"]["local_lipschitz"][k]) for k in ("q50", "q95", "max")))
    if all("memorisation" in m for m in models.values()):
        q = next(iter(models.values()))["memorisation"]["copy_quantile"]
        row("Memorisation", "median NN distance to train: G(z) / test", "about 1",
            lambda m: "splits overlap" if m["memorisation"].get("median_ratio") is None
            else _f(m["memorisation"]["median_ratio"]))
        row("Memorisation", f"samples closer than the test {100 * q:.0f}% quantile", f"about {100 * q:.0f}%",
            lambda m: _pct(m["memorisation"]["copy_fraction"]))
        row("Memorisation", "P(G(z) farther than test), Mann-Whitney (z-score)", "about 0.5 (0)",
            lambda m: f"{_p(m['memorisation']['p_gen_farther'])} ({m['memorisation']['z_score']:.1f})")
        row("Memorisation", "distinct nearest training images, G(z) / test", "about 1",
            lambda m: _p(m["memorisation"]["distinct_neighbours"]))
    ref = _get(metrics, "reference", "digits")
    if ref and all("digits" in m for m in models.values()):
        row("Sample quality (MNIST)", f"samples classified with p >= {ref['threshold']:g} (test set "
            f"{_pct(ref['confident_share'])})", "higher", lambda m: _pct(m["digits"]["confident_share"]))
        row("Sample quality", f"smallest digit share (test set {_pct(ref['min_share'])})", "about 10%",
            lambda m: f"{_pct(m['digits']['min_share'])} ({m['digits']['min_digit']})")
    return rows


def table(metrics: dict) -> str:
    """The comparison table as Markdown (criteria as rows, models as columns)."""
    names = list(metrics["models"])
    lines = ["| criterion | metric | good | " + " | ".join(names) + " |",
             "|---|---|---|" + "---:|" * len(names)]
    esc = lambda text: text.replace("|", "\\|")  # noqa: E731  (a literal bar would split the cell)
    for crit, metric, good, cells in summary_rows(metrics):
        lines.append(f"| {esc(crit)} | {esc(metric)} | {esc(good)} | " + " | ".join(map(esc, cells)) + " |")
    return "\n".join(lines)


def digits_section(metrics: dict) -> list[str]:
    """The sample-quality section (MNIST digit classifier), or one line saying why it is absent."""
    info = metrics.get("digits") or {}
    ref = _get(metrics, "reference", "digits")
    if not info.get("classifier") or not ref:
        return [f"Sample quality (digit classifier): not computed; {info.get('note', 'no digit classifier')}.", ""]
    c = info["classifier"]
    rows = [("test set (reference)", ref)] + [(f"`{m}`", v["digits"]) for m, v in metrics["models"].items()
                                              if "digits" in v]
    who = "A digit classifier given by the caller"
    if c.get("n_train"):
        who = (f"A small CNN trained by genprior on {c['n_train']:,} MNIST training images (test accuracy "
               f"{100 * (c.get('test_accuracy') or 0):.2f}%; "
               + (f"cached in `{c['path']}`)" if c.get("path") else "not cached)"))
    lines = ["## Sample quality (MNIST digit classifier)", "",
             f"{who} classifies {ref['n']:,} samples G(z), z ~ N(0, I), of each model "
             f"and as many test images. A generator that has learnt MNIST makes digits the classifier recognises "
             f"with confidence p >= {ref['threshold']:g}, each digit about 10% of the time (total variation "
             "distance to uniform near 0); IS = exp(E KL(p(y|x) || p(y))) is the Inception score with this "
             f"classifier (1 to 10). The test set is the reference. ![digits]({metrics['figures'].get('digits')})",
             "",
             f"| images | p >= {ref['threshold']:g} | mean max p | smallest share (digit) | TV to uniform | IS "
             "| shares of 0-9 (%) |", "|---|---:|---:|---:|---:|---:|---|"]
    for name, q in rows:
        lines.append(f"| {name} | {_pct(q['confident_share'])} | {q['mean_confidence']:.3f} | "
                     f"{100 * q['min_share']:.1f}% ({q['min_digit']}) | {q['tv_uniform']:.3f} | "
                     f"{q['inception_score']:.2f} | " + " ".join(f"{100 * v:.0f}" for v in q["shares"]) + " |")
    return lines + [""]


def timing_table(metrics: dict) -> str:
    names = list(metrics["models"])
    keys = ["A1", "A2", "A3", "B2", "far", "B1", "memorisation"]
    if any("digits" in metrics["models"][m]["timings"] for m in names):
        keys.append("digits")
    labels = {"far": "B2 far", "memorisation": "memorisation"}
    lines = ["| model | " + " | ".join(labels.get(k, k) for k in keys) + " | total |", "|---|" + "---:|" * (len(keys) + 1)]
    for m in names:
        t = metrics["models"][m]["timings"]
        lines.append(f"| {m} | " + " | ".join(_f(t.get(k), 3) if k in t else "-" for k in keys)
                     + f" | {_f(sum(t.values()), 3)} |")
    return "\n".join(lines)


def render_report(metrics: dict) -> str:
    """The whole ``report.md``: the generators' criteria (if any), then the denoisers' section (if any)."""
    from genprior.evaluation.denoising_report import denoising_section

    if metrics["models"]:
        lines = generator_lines(metrics)
    else:
        d = metrics["data"]
        lines = ["# Denoiser report card", "",
                 f"Data: `{d.get('path', '?')}`: {d['n_test']:,} test images of size "
                 f"{d['image_shape'][-2]}x{d['image_shape'][-1]}. PSNR uses data range 1.", ""]
    return "\n".join(lines + denoising_section(metrics)).rstrip() + "\n"


def generator_lines(metrics: dict) -> list[str]:
    """The generator report card (Markdown lines)."""
    d, s, ref = metrics["data"], metrics["settings"], metrics.get("reference", {})
    names = list(metrics["models"])
    figs = metrics["figures"]
    lines = [
        "# Generator report card",
        "",
        f"Data: `{d.get('path', '?')}`: {d['n_test']:,} test images of size {d['image_shape'][-2]}x{d['image_shape'][-1]}"
        + (f", {d['n_train']:,} training images" if d.get("n_train") else ", no training images (no memorisation check)")
        + ". Models: " + ", ".join(
            f"`{m}` ({v['model']['kind']}, d = {v['model']['latent_dim']})" for m, v in metrics["models"].items()) + ".",
        "",
        "Criteria of Duff, Campbell and Ehrhardt, Section 4: (A) the generator is faithful to the data "
        "distribution, (B) its range can be searched by descent. PSNR uses data range 1 (the authors' code used 2: "
        "add 6.02 dB to compare).",
        "",
        table(metrics),
        "",
    ]
    emds = {m: _get(v, "A3", "emd", "emd") for m, v in metrics["models"].items()}
    if len(names) > 1 and all(v is not None for v in emds.values()):
        by_emd = sorted(names, key=lambda m: emds[m])
        by_sw = sorted(names, key=lambda m: metrics["models"][m]["A3"]["sliced"]["scaled"])
        lines += [f"Exact EMD ranks the models {' < '.join(by_emd)}; the sliced estimate "
                  + ("ranks them the same." if by_emd == by_sw else f"ranks them differently: {' < '.join(by_sw)}."),
                  ""]
    copies = ref.get("test_in_train", 0)
    if copies:
        lines += [f"**Warning: {copies:,} of the {d['n_test']:,} test images also appear in the training images.** "
                  "The splits overlap, so scores on test images measure memory, not generalisation, and the "
                  "memorisation ratio is undefined where the test images' nearest training image is themselves.", ""]
    emd_ref = _get(ref, "emd_test_train", "emd", "emd")
    if emd_ref is not None:
        lines += [f"Reference: the exact EMD between {s['emd_n']:,} test and as many training images is "
                  f"**{_f(emd_ref)}** (D x SW2^2 {_f(_get(ref, 'emd_test_train', 'sliced', 'scaled'))}): "
                  "no sampler of the data distribution does better at this N.", ""]
    lines += [
        "## How to read it",
        "",
        f"- **A1** (paper Figures 1, 2): z*(x) = argmin ||G(z) - x||^2 by {_a1_solver(s)} for the first "
        f"{s['n']:,} test images, started from the encoder's code (AE, VAE) or the best of {s['restarts']} draws "
        "z ~ N(0, I) (models without encoder). "
        f"NRMSE = ||G(z*) - x|| / ||x||. ![A1 NRMSE]({figs['a1_nrmse']}) ![A1 examples]({figs['a1_examples']})",
        f"- **A2**: the same fit for {s['off_n']} images of each kind that are not from the data set "
        "(uniform noise; inverted 1 - x; test images rolled by half their size; another data set if given). "
        "Low NRMSE is bad here. AUROC = P(an off-distribution image is fitted worse than a test image): "
        f"1 separates perfectly, 0.5 not at all. ![A2]({figs['a2_off_distribution']})",
        f"- **A3** (Figure 3): exact EMD (POT `ot.emd2`, network simplex, squared Euclidean cost, uniform weights) "
        f"between the first {s['emd_n']:,} test images and {s['emd_n']:,} samples G(z), z ~ N(0, I); the value "
        "is the mean squared distance of the optimally matched pairs (the paper's equation (10) divided by N). "
        "The sliced estimate D x SW2^2 is a lower bound on it (equal for a pure translation); the agreement is "
        f"their ratio. ![A3]({figs['a3_emd']})",
        "- **B2** (Figures 4, 5): found codes z* of the test images against N(0, I). KS statistics compare "
        "||z*||^2 with the chi-square law with d degrees of freedom, and each coordinate with N(0, 1); under the "
        "prior both stay below the critical value shown with 95% probability. An AE has no prior, so its codes "
        "need not match N(0, I)."
        + (f" ![B2 latent]({figs['b2_latent']})" if "b2_latent" in figs else "")
        + f" Far from the prior: G(z) for |z| = r sqrt(d). ![B2 far]({figs['b2_far_from_prior']})",
        f"- **B1** (Figure 6): G(z1 + a1 (z2 - z1) + a2 (z3 - z1)) for the codes of test images 0, 1, 2, and "
        f"local Lipschitz estimates ||G(z + e) - G(z)|| / ||e|| (|e| = 0.01, random directions) at 11 points "
        f"on each of {s['lipschitz_paths']} straight paths between found codes; the unit depends on the scale "
        f"of the latent space. ![B1 grid]({figs['b1_interpolation']})"
        + (f" ![B1 Lipschitz]({figs['b1_lipschitz']})" if "b1_lipschitz" in figs else ""),
    ]
    if "memorisation" in figs:
        lines.append(
            f"- **Memorisation**: distances from {s['mem_n']:,} samples G(z) and as many test images to their "
            "nearest training image (Meehan et al. 2020's data-copying test). Copies sit closer to the training "
            "set than unseen data do; a collapsed generator reaches few distinct training images. "
            f"![Memorisation]({figs['memorisation']})")
    lines += [""] + digits_section(metrics)
    lines += ["## Time (seconds)", "", timing_table(metrics), "",
              f"Reference computations (test vs train): {_f(ref.get('seconds'))} s; figures "
              f"{_f(metrics['seconds']['figures'])} s; total {_f(metrics['seconds']['total'])} s.", ""]
    warn = [m for m in names if _get(metrics["models"][m], "A3", "emd", "warning")]
    for m in warn:
        lines.append(f"Warning ({m}, EMD): {metrics['models'][m]['A3']['emd']['warning']}")
    return lines + [""]
