"""The report card: every criterion for every generator (and the denoising table for every
denoiser), as ``metrics.json``, ``report.md`` and PNG figures in one directory.

:func:`evaluate_generator` runs the criteria of :mod:`genprior.evaluation.criteria` on
one model; :func:`data_reference` computes what does not depend on the model (the EMD
between test and training images, a floor no sampler beats at that ``N``; the test
images' nearest training images); :func:`write_report` runs both for several models and
writes the files.  Settings live in one :class:`EvaluationSettings`.  Given a digit
classifier (MNIST), the samples and the test images are also scored for sample quality
(:mod:`genprior.evaluation.digits`).
"""

from __future__ import annotations

import math
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.evaluation import criteria as C
from genprior.evaluation.denoising import DenoisingSettings, Sampler, check_denoiser_fits, is_denoiser
from genprior.solvers.backtracking import OBJECTIVE_TOL

METRICS = "metrics.json"
REPORT = "report.md"
FIGURES = {
    "a1_nrmse": "a1_nrmse.png",
    "a1_examples": "a1_examples.png",
    "a2_off_distribution": "a2_off_distribution.png",
    "a3_emd": "a3_emd.png",
    "b2_latent": "b2_latent.png",
    "b2_far_from_prior": "b2_far_from_prior.png",
    "b1_interpolation": "b1_interpolation.png",
    "b1_lipschitz": "b1_lipschitz.png",
    "memorisation": "memorisation.png",
}
DIGITS_FIGURE = "digits.png"  # only with a digit classifier (MNIST)


@dataclass
class EvaluationSettings:
    """How much of each criterion to run.  ``None`` sizes mean "the default, or all available".

    Attributes:
        n: test images projected for A1/B2/B1 (default 1000).
        emd_n: test images and prior samples for A3's exact EMD (default 10,000, the paper's).
        mem_n: prior samples (and test images) for the memorisation check (default 2000).
        off_n: images per off-distribution set (A2).
        restarts: random starts per image for models without an encoder (the paper: 4).
        max_iter, tol: the iteration limit and stopping tolerance of the fits ``z*(x)``.
        solver: the solver of those fits (:func:`genprior.evaluation.coverage.range_coverage`):
            ``"backtracking"`` (Algorithm 1, the paper's), ``"lbfgs"``, ``"gauss-newton"`` or ``"auto"``.
        prune_after, prune_keep: random starts: after ``prune_after`` iterations only each image's
            ``prune_keep`` starts of lowest objective go on (``None``: all run to their stop; the
            trade: a pruned start might have ended lower; benchmarks/RESULTS.md, bench_a1).
        thresholds: NRMSE thresholds reported by A1.
        exact_emd: compute the exact EMD (else only the sliced estimate).
        n_projections: directions of the sliced-Wasserstein estimate.
        lipschitz_paths: interpolation paths for the local Lipschitz estimates (B1).
        far_radii: radii (multiples of sqrt(d)) of the far-from-prior samples (B2).
        examples: test images shown in the A1 example grid.
        batch_size: images solved or generated together.
        seed: seed of every random draw (starts, prior samples, projections, paths).
    """

    n: int | None = None
    emd_n: int | None = None
    mem_n: int | None = None
    off_n: int = 100
    restarts: int = 4
    max_iter: int = 1000
    tol: float = OBJECTIVE_TOL
    solver: str = C.A1_SOLVER
    prune_after: int | None = None
    prune_keep: int = 1
    thresholds: tuple[float, ...] = C.THRESHOLDS
    exact_emd: bool = True
    n_projections: int = 1000
    lipschitz_paths: int = 100
    far_radii: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    examples: int = 8
    batch_size: int = 1000
    seed: int = 0

    DEFAULTS = {"n": 1000, "emd_n": 10_000, "mem_n": 2000}

    @classmethod
    def quick(cls, **overrides) -> EvaluationSettings:
        """A smoke-test sized run (seconds to a minute per model)."""
        base = dict(n=200, emd_n=1000, mem_n=500, off_n=20, restarts=2, max_iter=50, n_projections=200,
                    lipschitz_paths=20)
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    def resolved(self, n_test: int) -> EvaluationSettings:
        """Fill in ``None`` sizes; raise ``ValueError`` if a size asked for exceeds the data."""
        out = {}
        for name, default in self.DEFAULTS.items():
            value = getattr(self, name)
            if value is None:
                value = min(default, n_test)
            elif value < 1:
                raise InputError(f"{name} must be >= 1, got {value}")
            elif value > n_test:
                flag = "--" + name.replace("_", "-")
                raise InputError(f"{flag} {value} is larger than the {n_test} test images available")
            out[name] = value
        for name in ("restarts", "off_n", "n_projections", "lipschitz_paths", "batch_size", "examples"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_iter < 0:
            raise InputError(f"max_iter must be >= 0, got {self.max_iter}")
        from genprior.methods.restarts import check_pruning
        from genprior.methods.solver_choice import check_solver

        check_solver(self.solver, "range coverage (A1)", least_squares_in_z=True)
        check_pruning(self.prune_after, self.prune_keep)
        return replace(self, **out)


def check_model_fits(generator: nn.Module, images: Tensor, name: str = "model") -> None:
    """Raise ``ValueError`` unless ``G`` has a ``latent_dim`` and makes images shaped like ``images``."""
    d = getattr(generator, "latent_dim", None)
    if not isinstance(d, int) or d < 1:
        raise InputError(f"{name}: a generator needs an integer latent_dim >= 1, got {d!r}")
    shape = tuple(C.generate(generator, torch.zeros(1, d)).shape[1:])
    if shape != tuple(images.shape[1:]):
        raise InputError(f"{name} makes images of shape {list(shape)} but the data are {list(images.shape[1:])}; "
                         "evaluate a model on the data set it was trained for")


def check_sizes(s: EvaluationSettings, test: Tensor) -> None:
    """Refuse sizes whose arrays would not fit in memory, before any model runs.

    The A1 fits hold ``restarts x min(batch_size, n)`` problems at once (activations of the
    generator included, about 16 values per pixel), A2 builds three sets of ``off_n``
    images and the memorisation check ``mem_n`` samples.
    """
    from genprior.resources import check_memory

    pixels = test[0].numel()
    batch = min(s.batch_size, s.n)
    check_memory(4.0 * 16 * s.restarts * batch * pixels, f"fitting {batch} images x {s.restarts} restarts at once",
                 "use fewer restarts")
    check_memory(4.0 * 4 * (3 * s.off_n + s.mem_n) * pixels,
                 f"{s.off_n} off-distribution images per set and {s.mem_n} samples", "use a smaller `off_n=` or `mem_n=`")


def data_reference(test: Tensor, train: Tensor | None, settings: EvaluationSettings,
                   classifier: nn.Module | None = None) -> dict:
    """Model-independent references: test-vs-train EMD (floor), test images' nearest training images,
    and (with a digit ``classifier``) the sample-quality scores of the first ``emd_n`` test images."""
    ref: dict[str, Any] = {"summary": {}}
    if classifier is not None:
        from genprior.evaluation.digits import digit_quality

        start = time.perf_counter()
        ref["summary"]["digits"] = {**digit_quality(test[: settings.emd_n], classifier).to_dict(),
                                    "seconds": time.perf_counter() - start}
    if train is None:
        return ref
    n = settings.emd_n
    if train.shape[0] >= n:
        start = time.perf_counter()
        dist = C.distribution_distance(test[:n], train[:n], exact=settings.exact_emd,
                                       n_projections=settings.n_projections, seed=settings.seed)
        ref["summary"]["emd_test_train"] = _strip(dist)
        ref["summary"]["emd_test_train"]["seconds"] = time.perf_counter() - start
    from genprior.data.io import count_duplicates

    ref["summary"]["test_in_train"] = count_duplicates(train, test)  # overlapping splits void the scores
    start = time.perf_counter()
    ref["test_neighbours"] = C.nearest_neighbours(test[: settings.mem_n], train)
    ref["summary"]["test_neighbours_seconds"] = time.perf_counter() - start
    return ref


def evaluate_generator(generator: nn.Module, test: Tensor, train: Tensor | None = None,
                       off_sets: dict[str, Tensor] | None = None, settings: EvaluationSettings | None = None,
                       reference: dict | None = None, log: Callable[[str], None] | None = None,
                       classifier: nn.Module | None = None) -> dict:
    """Run every criterion on one generator.

    Args:
        generator: ``G`` (with ``encode`` for encoder starts).
        test: test images ``[N, 1, n, n]``.
        train: training images for the memorisation check (skipped without them).
        off_sets: A2's images (default: :func:`off_distribution_images` of the test set).
        settings: sizes and seeds (resolved against the data here).
        reference: :func:`data_reference` output, shared between models.
        log: called with one line per finished criterion.
        classifier: a digit classifier (MNIST): scores the first ``emd_n`` samples ``G(z)``
            (:func:`genprior.evaluation.digits.digit_quality`) as ``"digits"``.

    Returns:
        ``{"A1", "A2", "A3", "B2", "far", "B1", "memorisation", "digits", "timings"}``: each a
        dict with a JSON-ready ``summary`` and the tensors the figures need (``memorisation``
        only with training images, ``digits`` only with a classifier).
    """
    s = (settings or EvaluationSettings()).resolved(test.shape[0])
    say = log or (lambda _msg: None)
    check_model_fits(generator, test)
    if reference is None:
        reference = data_reference(test, train, s, classifier)
    if off_sets is None:
        off_sets = C.off_distribution_images(test, s.off_n, s.seed)
    proj = dict(restarts=s.restarts, seed=s.seed, max_iter=s.max_iter, tol=s.tol, batch_size=s.batch_size,
                solver=s.solver, prune_after=s.prune_after, prune_keep=s.prune_keep)
    out: dict[str, Any] = {}
    timings: dict[str, float] = {}

    def timed(key: str, fn):
        start = time.perf_counter()
        out[key] = fn()
        timings[key] = time.perf_counter() - start
        say(f"{key} done in {timings[key]:.1f} s")

    timed("A1", lambda: C.range_coverage(generator, test[: s.n], thresholds=s.thresholds, **proj))
    timed("A2", lambda: C.off_distribution_fit(generator, off_sets, test_nrmse=out["A1"]["nrmse"],
                                               thresholds=s.thresholds, **proj))
    n_samples = max(s.emd_n, s.mem_n if train is not None else 0)
    start = time.perf_counter()
    _, samples = C.prior_samples(generator, n_samples, seed=s.seed + 7, batch_size=s.batch_size)
    sample_seconds = time.perf_counter() - start
    timed("A3", lambda: {**C.distribution_distance(test[: s.emd_n], samples[: s.emd_n], exact=s.exact_emd,
                                                   n_projections=s.n_projections, seed=s.seed),
                         "sampling_seconds": sample_seconds})
    if classifier is not None:
        from genprior.evaluation.digits import digit_quality

        timed("digits", lambda: digit_quality(samples[: s.emd_n], classifier).to_dict())
    codes = out["A1"]["z"]
    timed("B2", lambda: C.latent_statistics(codes, seed=s.seed))
    timed("far", lambda: C.far_from_prior_samples(generator, s.far_radii, n=8, seed=s.seed, reference=test[: s.n]))
    timed("B1", lambda: {
        "grid": C.interpolation_grid(generator, codes[0], codes[min(1, len(codes) - 1)], codes[min(2, len(codes) - 1)]),
        **(C.local_lipschitz(generator, codes, n_paths=s.lipschitz_paths, seed=s.seed) if len(codes) > 1
           else {"values": torch.zeros(0), "summary": None}),
    })
    if train is not None:
        timed("memorisation", lambda: C.memorisation(samples[: s.mem_n], train, test[: s.mem_n],
                                                     test_neighbours=reference.get("test_neighbours")))
    out["timings"] = timings
    return out


# ---------------------------------------------------------------------------------------
# JSON


def _strip(obj: Any) -> Any:
    """Drop tensors from nested dicts, turning NaN/inf into None (JSON-safe)."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if not isinstance(v, Tensor)}
    if isinstance(obj, (list, tuple)):
        return [_strip(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def model_summary(result: dict) -> dict:
    """The JSON part of :func:`evaluate_generator`'s output."""
    out = {
        "A1": result["A1"]["summary"],
        "A2": {name: r["summary"] for name, r in result["A2"].items()},
        "A3": _strip(result["A3"]),
        "B2": result["B2"]["summary"],
        "B2_far_from_prior": result["far"]["summary"],
        "B1": {"local_lipschitz": result["B1"]["summary"]},
    }
    if "memorisation" in result:
        out["memorisation"] = _strip(result["memorisation"])
    if "digits" in result:
        out["digits"] = result["digits"]
    out["timings"] = result["timings"]
    return _strip(out)


def model_info(generator: nn.Module, path: str | None) -> dict:
    config = getattr(generator, "checkpoint_config", {}) or {}
    m = config.get("model", {})
    return {"path": path, "kind": m.get("kind", type(generator).__name__), "preset": m.get("preset"),
            "latent_dim": int(generator.latent_dim), "has_encoder": callable(getattr(generator, "encode", None)),
            "training_steps": (config.get("training") or {}).get("steps")}


def _digits_info(classifier: nn.Module | None, note: str | None) -> dict:
    """``metrics["digits"]``: the classifier's record, or why there are no sample-quality scores."""
    if classifier is None:
        return {"classifier": None, "note": note or "no digit classifier was given"}
    from genprior.evaluation.digits import THRESHOLD, classifier_info

    return {"classifier": classifier_info(classifier), "threshold": THRESHOLD}


# ---------------------------------------------------------------------------------------
# The report


def write_report(models: dict[str, nn.Module], test: Tensor, out_dir: str | os.PathLike,
                 train: Tensor | None = None, settings: EvaluationSettings | None = None,
                 off_data: Tensor | None = None, off_name: str = "other data",
                 data_info: dict | None = None, model_paths: dict[str, str] | None = None,
                 log: Callable[[str], None] | None = None, classifier: nn.Module | None = None,
                 classifier_note: str | None = None, cache_dir: str | os.PathLike | None = None,
                 denoising: DenoisingSettings | None = None, sampler: Sampler | None = None) -> dict:
    """Evaluate ``models`` (name -> generator or denoiser) and write ``report.md``, ``metrics.json`` and figures.

    Generators get the criteria A1-B2 (and the rest below); denoisers ``D(x, sigma)`` get the
    denoising table against TV (:mod:`genprior.evaluation.denoising`, sized by ``denoising``;
    ``sampler``, a diffusion sampler, adds their samples).
    ``classifier`` (a digit classifier, for MNIST) adds the sample-quality scores of each
    model and of the test set; without one, ``classifier_note`` says why in the report.
    ``cache_dir``: each generator's evaluation is saved there as ``<name>.pt`` when it
    finishes and loaded instead of recomputed on a later call, so a killed report
    continues with the model it stopped at (the caller keeps the directory's contents
    consistent with the data, the models and ``settings``).

    Returns:
        The metrics dictionary written to ``metrics.json``.
    """
    from genprior import __version__
    from genprior.atomic import write_json_atomic, write_text_atomic
    from genprior.evaluation.denoising_report import denoiser_report
    from genprior.evaluation.report_text import render_report

    if not models:
        raise InputError("give at least one model to evaluate")
    say = log or (lambda _msg: None)
    started = time.perf_counter()
    denoisers = {name: m for name, m in models.items() if is_denoiser(m)}
    generators = {name: m for name, m in models.items() if name not in denoisers}
    s = settings or EvaluationSettings()
    if generators:
        s = s.resolved(test.shape[0])
        check_sizes(s, test)
    for name, g in generators.items():
        check_model_fits(g, test, name)
    if denoisers:
        d_settings = (denoising or DenoisingSettings()).resolved(test.shape[0])
        for name, d in denoisers.items():
            check_denoiser_fits(d, test, d_settings.sigmas, name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics: dict[str, Any] = {
        "format": "genprior-evaluation", "format_version": 1,
        "versions": {"genprior": __version__, "torch": torch.__version__},
        "data": {**(data_info or {}), "n_test": int(test.shape[0]), "image_shape": list(test.shape[1:]),
                 "n_train": None if train is None else int(train.shape[0])},
        "settings": asdict(s) if generators else {},  # the generators' criteria
        "psnr_data_range": 1.0,
        "models": {}, "figures": {}, "seconds": {"figures": 0.0},
    }
    if generators:
        _generator_report(generators, test, out, metrics, train, s, off_data, off_name, model_paths, say, classifier,
                          classifier_note, cache_dir)
    if denoisers:
        metrics["denoising"], figs = denoiser_report(denoisers, test, out, d_settings, model_paths, say, sampler,
                                                     classifier)
        metrics["figures"].update({k: p.name for k, p in figs.items()})
    metrics["seconds"]["total"] = time.perf_counter() - started
    write_json_atomic(out / METRICS, metrics)
    write_text_atomic(out / REPORT, render_report(metrics))
    say(f"wrote {out / REPORT}, {out / METRICS} and {len(metrics['figures'])} figures in "
        f"{time.perf_counter() - started:.0f} s")
    return metrics


def _generator_report(models: dict[str, nn.Module], test: Tensor, out: Path, metrics: dict, train: Tensor | None,
                      s: EvaluationSettings, off_data: Tensor | None, off_name: str,
                      model_paths: dict[str, str] | None, say: Callable[[str], None], classifier: nn.Module | None,
                      classifier_note: str | None, cache_dir: str | os.PathLike | None) -> None:
    """The generators' part of :func:`write_report`: criteria, figures and their entries of ``metrics``."""
    from genprior.evaluation import report_figures as F
    from genprior.metrics import psnr

    say(f"reference: test vs train (EMD at N = {s.emd_n}, nearest neighbours of {s.mem_n} test images)")
    ref_start = time.perf_counter()
    reference = data_reference(test, train, s, classifier)
    ref_seconds = time.perf_counter() - ref_start
    copies = reference["summary"].get("test_in_train", 0)
    if copies:
        say(f"warning: {copies} of {test.shape[0]} test images also appear in the training images: the splits "
            "overlap, so A1 and the memorisation check overstate how well the models generalise")
    off_sets = C.off_distribution_images(test, s.off_n, s.seed, other=off_data, other_name=off_name)
    results: dict[str, dict] = {}
    for name, g in models.items():
        cached = Path(cache_dir) / f"{name}.pt" if cache_dir is not None else None
        if cached is not None and cached.exists():
            try:
                results[name] = torch.load(cached, weights_only=True)
                say(f"evaluated {name} earlier: {cached}")
                continue
            except (OSError, RuntimeError, pickle.UnpicklingError) as exc:  # as the digit classifier's cache does
                say(f"the saved evaluation {cached} is unusable ({exc}); evaluating {name} again")
        say(f"evaluating {name}")
        results[name] = evaluate_generator(g, test, train, off_sets, s, reference,
                                           log=lambda msg, name=name: say(f"  {name}: {msg}"), classifier=classifier)
        if cached is not None:
            from genprior.atomic import write_atomic

            cached.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(cached, lambda tmp, result=results[name]: torch.save(result, tmp))

    say("writing figures")
    fig_start = time.perf_counter()
    figs = {k: out / v for k, v in FIGURES.items()}
    F.violins({m: r["A1"]["nrmse"] for m, r in results.items()}, figs["a1_nrmse"], "NRMSE ||G(z*) - x|| / ||x||",
              f"A1: NRMSE of the projections of {s.n} test images", hlines=s.thresholds)
    k = min(s.examples, s.n)
    F.coverage_examples(test[:k], {m: r["A1"]["reconstructions"][:k] for m, r in results.items()},
                        {m: psnr(r["A1"]["reconstructions"][:k], test[:k]) for m, r in results.items()},
                        figs["a1_examples"], n=k)
    F.off_distribution_examples(off_sets, {m: {o: r["A2"][o]["reconstructions"] for o in off_sets}
                                           for m, r in results.items()}, figs["a2_off_distribution"])
    ref_emd = (reference["summary"].get("emd_test_train") or {}).get("emd") or {}
    F.emd_bars({m: (r["A3"]["emd"] or {}).get("emd", float("nan")) for m, r in results.items()},
               {m: r["A3"]["sliced"]["scaled"] for m, r in results.items()}, figs["a3_emd"],
               reference=ref_emd.get("emd"), n=s.emd_n)
    with_proj = {m: r for m, r in results.items() if "projected_codes" in r["B2"]}
    if with_proj:
        F.latent_projections({m: r["B2"]["projected_codes"] for m, r in with_proj.items()},
                             {m: r["B2"]["projected_prior"] for m, r in with_proj.items()}, figs["b2_latent"])
    else:
        figs.pop("b2_latent")
    F.far_from_prior_grid({m: r["far"]["images"] for m, r in results.items()}, s.far_radii, figs["b2_far_from_prior"])
    F.interpolation_grids({m: r["B1"]["grid"] for m, r in results.items()}, figs["b1_interpolation"])
    lip = {m: r["B1"]["values"] for m, r in results.items() if r["B1"]["values"].numel()}
    if lip:
        F.violins(lip, figs["b1_lipschitz"], "||G(z + e) - G(z)|| / ||e||",
                  "B1: local Lipschitz estimates along interpolation paths", log=True)
    else:
        figs.pop("b1_lipschitz")
    if train is not None:
        mem = {m: r["memorisation"] for m, r in results.items()}
        first = next(iter(mem.values()))
        F.memorisation_histograms({m: v["gen_distance"] for m, v in mem.items()}, first["test_distance"],
                                  figs["memorisation"], threshold=first["copy_threshold"])
    else:
        figs.pop("memorisation")
    if classifier is not None:
        figs["digits"] = out / DIGITS_FIGURE
        ref_digits = reference["summary"]["digits"]
        F.digit_histograms({m: r["digits"]["shares"] for m, r in results.items()}, ref_digits["shares"],
                           figs["digits"], n=s.emd_n, confident={"test set": ref_digits["confident_share"],
                                                                 **{m: r["digits"]["confident_share"]
                                                                    for m, r in results.items()}})
    fig_seconds = time.perf_counter() - fig_start

    metrics["data"]["off_distribution_sets"] = list(off_sets)
    metrics.update({
        "reference": {**_strip(reference["summary"]), "seconds": ref_seconds},
        "digits": _digits_info(classifier, classifier_note),
        "models": {m: {"model": model_info(models[m], (model_paths or {}).get(m)), **model_summary(r)}
                   for m, r in results.items()},
        "figures": {k: p.name for k, p in figs.items()},
    })
    metrics["seconds"]["figures"] = fig_seconds
