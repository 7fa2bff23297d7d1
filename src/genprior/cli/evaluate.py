"""``genprior evaluate MODEL [MODEL ...]``: the report card (generators: the paper's Section 4; denoisers:
denoising PSNR against the noise level, next to TV)."""

from __future__ import annotations

from pathlib import Path

import typer

from genprior.cli.app import app


def model_names(paths: list[Path]) -> list[str]:
    """Report names from checkpoint directory names, made unique with ``-2``, ``-3``, ..."""
    names: list[str] = []
    for p in paths:
        base = p.resolve().name or str(p)
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def _optional_split(path: Path, split: str):
    """The ``split`` images of ``path``, or None if that split is empty or missing."""
    from genprior.data.io import load_images

    try:
        return load_images(path, split)
    except ValueError as exc:
        if "is empty" in str(exc) or f"no {split!r} array" in str(exc):
            return None
        raise


@app.command("evaluate")
def evaluate_command(
    models: list[Path] = typer.Argument(..., help="Checkpoint directories; several are compared side by side."),
    data: Path = typer.Option(..., "--data", help="Data set (.npz made by `genprior data`); uses its test split."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory: report.md, metrics.json, PNG figures."),
    n: int = typer.Option(None, "--n", help="Test images projected for A1, B1, B2 (default 1000 or all)."),
    emd_n: int = typer.Option(None, "--emd-n", help="Images per side of the exact EMD, A3 (default 10000 or all)."),
    mem_n: int = typer.Option(None, "--mem-n", help="Samples for the memorisation check (default 2000)."),
    off_n: int = typer.Option(None, "--off-n", help="Images per off-distribution set, A2 (default 100)."),
    restarts: int = typer.Option(None, "--restarts", help="Random starts of z* for models without encoder (default 4)."),
    max_iter: int = typer.Option(None, "--max-iter", help="Iteration cap of the fits z* (default 1000; they stop earlier at convergence)."),
    solver: str = typer.Option(None, "--solver", help="Solver of the fits z* (A1, A2): backtracking (the paper's "
                               "Algorithm 1), lbfgs (the same objective and stopping rule, fewer generator passes), "
                               "gauss-newton or auto (lbfgs). Default lbfgs."),
    prune_after: int = typer.Option(None, "--prune-after", help="Random starts (GAN): after this many iterations "
                                    "only each image's --prune-keep starts of lowest objective go on (fewer solves; "
                                    "a dropped start might have ended lower). Default: no pruning."),
    prune_keep: int = typer.Option(None, "--prune-keep", help="Starts per image kept by --prune-after (default 1)."),
    train_data: Path = typer.Option(None, "--train-data", help="Training images for the memorisation check "
                                    "(default: the train split of --data, if it has one)."),
    off_data: Path = typer.Option(None, "--off-data", help="Another data set (.npz) for A2; resized to fit."),
    sliced_only: bool = typer.Option(False, "--sliced-only", help="Skip the exact EMD (only the sliced estimate)."),
    digits: bool = typer.Option(True, "--digits/--no-digits", help="MNIST only: score samples and test images "
                                "with the project's digit classifier (trained on the data's train split on first "
                                "use, about a minute per core, then cached)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random draw."),
    quick: bool = typer.Option(False, "--quick", help="Small sizes for a smoke test (n 200, emd-n 1000, ...)."),
    device: str = typer.Option("cpu", "--device", help="Where the generators run: cpu or cuda (data and EMD stay on the CPU)."),
    sigmas: str = typer.Option(None, "--sigmas", help="Denoisers: the noise levels of the denoising table, "
                               "comma-separated (default 0.025,0.05,0.1,0.2,0.4)."),
    force: bool = typer.Option(False, "--force", help="Replace the report files already in --out."),
) -> None:
    """Evaluate generators against the paper's criteria A1-A3, B1-B2, a memorisation check and, on MNIST,
    sample quality by a digit classifier; denoisers by their denoising PSNR against the noise level, next to TV."""
    from genprior.atomic import new_outputs
    from genprior.data.io import load_dataset_meta, load_images
    from genprior.devices import resolve_device
    from genprior.errors import InputError
    from genprior.evaluation.denoising import DenoisingSettings, is_denoiser, parse_sigmas
    from genprior.evaluation.denoising_report import FIGURES as DENOISING_FIGURES
    from genprior.evaluation.report import DIGITS_FIGURE, FIGURES, METRICS, REPORT, EvaluationSettings, write_report
    from genprior.models.checkpoint import load_model
    from genprior.outputs import RunLock, check_output_directory
    from genprior.validation import check_seed

    check_seed(seed, "seed")
    if prune_keep is not None and prune_after is None:
        raise InputError("--prune-keep needs --prune-after (the iteration at which the starts are pruned)")
    where = resolve_device(device)
    check_output_directory(out, force=force, inputs=(data, train_data, off_data, *models),
                           owned=(REPORT, METRICS, DIGITS_FIGURE, *FIGURES.values(), *DENOISING_FIGURES.values()),
                           label="--out",
                           force_hint="--force")
    for p in models:
        if not p.exists():
            raise FileNotFoundError(f"model checkpoint not found: {p}")
    test = load_images(data, "test")
    train = load_images(train_data, "train") if train_data is not None else _optional_split(data, "train")
    other = None
    if off_data is not None:
        other = _optional_split(off_data, "test")
        if other is None:
            other = load_images(off_data, "train")
    overrides = dict(n=n, emd_n=emd_n, mem_n=mem_n, off_n=off_n, restarts=restarts, max_iter=max_iter, seed=seed,
                     solver=solver, prune_after=prune_after, prune_keep=prune_keep)
    settings = EvaluationSettings.quick(**overrides) if quick else EvaluationSettings(
        **{k: v for k, v in overrides.items() if v is not None})
    if sliced_only:
        settings.exact_emd = False
    denoising = DenoisingSettings(seed=seed, **({"n": 20} if quick else {}),
                                  **({"sigmas": parse_sigmas(sigmas)} if sigmas is not None else {}))
    names = model_names(models)
    generators = {name: load_model(p, device=where) for name, p in zip(names, models)}
    info = {"path": str(data), **{k: v for k, v in load_dataset_meta(data).items() if k in ("dataset", "seed")}}
    if train_data is not None:
        info["train_path"] = str(train_data)
    if off_data is not None:
        info["off_path"] = str(off_data)
    classifier, note = None, "switched off by --no-digits"
    if digits and not all(is_denoiser(g) for g in generators.values()):  # denoisers draw no samples (yet)
        from genprior.evaluation.digits import classifier_for_data

        classifier, note = classifier_for_data(data, info.get("dataset"), train if train_data is None else None,
                                               log=typer.echo)
        if classifier is not None:
            acc = classifier.record.get("test_accuracy")
            typer.echo(f"digit classifier: {classifier.record.get('path')}"
                       + (f" (test accuracy {100 * acc:.2f}%)" if acc is not None else ""))
    owned = (REPORT, METRICS, DIGITS_FIGURE, *FIGURES.values())
    with RunLock(out), new_outputs(*(out / name for name in owned), replace=force):
        metrics = write_report(generators, test, out, train=train, settings=settings, off_data=other,
                               off_name=off_data.stem if off_data is not None else "other data", data_info=info,
                               model_paths={name: str(p) for name, p in zip(names, models)}, log=typer.echo,
                               classifier=classifier, classifier_note=note, denoising=denoising)
    for name, m in metrics["models"].items():
        emd = (m["A3"].get("emd") or {}).get("emd")
        typer.echo(f"{name}: A1 NRMSE median {m['A1']['nrmse']['median']:.3f}, "
                   + (f"EMD {emd:.3g}, " if emd is not None else "")
                   + f"D*SW2^2 {m['A3']['sliced']['scaled']:.3g}"
                   + (f", digits p >= 0.9 {100 * m['digits']['confident_share']:.0f}%, smallest digit share "
                      f"{100 * m['digits']['min_share']:.1f}%" if "digits" in m else ""))
    for name, m in (metrics.get("denoising") or {}).get("models", {}).items():
        levels = zip(metrics["denoising"]["levels"], m["levels"])
        typer.echo(f"{name}: denoising PSNR (TV) at sigma " + ", ".join(
            f"{ref['sigma']:g}: {own['psnr']:.2f} ({ref['tv']['psnr']:.2f})" for ref, own in levels) + " dB")
    typer.echo(f"report: {out / REPORT}; metrics: {out / METRICS}")
