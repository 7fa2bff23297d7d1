"""``genprior train KIND ...``: train a generative model into a run directory.

There is one command per model kind (:data:`~genprior.models.kinds.MODEL_KINDS`): the
training options below, shared by every kind, then one option per field of the kind's
settings dataclass, generated (:mod:`genprior.cli.generated`), so a new kind's command
and options appear by themselves.  Defaults come from :func:`genprior.training.recipes.recipe` for the model kind, the
data set (the data file's ``meta["dataset"]`` or its image size) and the preset; every
flag given overrides them.  ``--resume`` continues the run saved in ``--out`` with its
own settings (``--steps``, ``--max-seconds``, the output cadence, ``--device`` and
``--amp`` may change; the recipe may not).  Without ``--resume`` an existing checkpoint
in ``--out`` is never overwritten unless ``--force`` is given.

Under ``torchrun --nproc_per_node K -m genprior train ...`` each of the K processes
trains on 1/K of every batch (DistributedDataParallel); rank 0 writes the files.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from genprior.cli.app import train_app
from genprior.cli.generated import Generated, with_options
from genprior.errors import InputError
from genprior.models.kinds import MODEL_KINDS

DataOpt = typer.Option(..., "--data", help="Training data (.npz made by `genprior data`); uses its train split.")
OutOpt = typer.Option(..., "--out", "-o", help="Output directory (the run): model.safetensors, config.json, losses.csv, "
                                                "samples.png, samples/, training-state/.")
ResumeOpt = typer.Option(False, "--resume", help="Continue the run saved in --out (starts afresh if there is none).")
ForceOpt = typer.Option(False, "--force", help="Replace an existing run in --out (the new run is written beside "
                                              "it and swapped in once it exists).")
QuietOpt = typer.Option(False, "--quiet", help="No progress bar.")


def _run(kind: str, data: Path, out: Path, options: dict[str, Any], model_options: dict[str, Any]) -> None:
    """Resolve settings (recipe < flags, or the saved run when resuming), build and train."""
    import torch

    from genprior.cli import as_flags
    from genprior.data.io import load_dataset_meta, load_images
    from genprior.distributed import from_environment
    from genprior.models.checkpoint import build_model
    from genprior.models.config import ModelConfig
    from genprior.outputs import check_output_directory
    from genprior.training import state
    from genprior.training.loop import TrainConfig, TrainingInterrupted, check_run_directory, train
    from genprior.training.recipes import dataset_of, recipe_settings

    main_rank = from_environment().is_main  # under torchrun, rank 0 prints
    check_output_directory(out, force=True, inputs=(data,), label="--out")  # before any work
    check_run_directory(out, options["resume"], options["force"])
    images = load_images(data, "train")
    if main_rank:
        _warn_duplicates(data, images)
    if images.shape[-1] != images.shape[-2]:
        raise InputError(f"{data}: images must be square, got {list(images.shape[-2:])}")
    size = int(images.shape[-1])
    meta = load_dataset_meta(data)
    dataset = dataset_of(meta, size)
    resume, force, quiet = options.pop("resume"), options.pop("force"), options.pop("quiet")
    saved_path = state.latest_state(out) if resume else None
    given = {k: v for k, v in options.items() if v is not None}
    if saved_path is not None:  # continue the saved run with its own settings
        saved = state.read_state(saved_path)
        model_config = ModelConfig(**saved["model"])
        if model_config.kind != kind:
            raise InputError(f"{out} holds a {model_config.kind.upper()} run; resume it with "
                             f"`genprior train {model_config.kind} --resume`")
        for key, value in model_options.items():
            if value is not None and getattr(model_config, key) != value:
                raise InputError(f"--{key.replace('_', '-')} {value} differs from the saved run's "
                                 f"{getattr(model_config, key)}; resume without it or start a new run")
        config = TrainConfig(**{**saved["train"], **given})
    else:
        preset = model_options.pop("preset", None) or "compact"
        latent = model_options.pop("latent_dim", None)
        model_config, config = recipe_settings(kind, dataset, preset, size, latent, model_overrides=model_options,
                                               **given)
    torch.manual_seed(config.seed)
    model = build_model(model_config.to_dict())
    data_info = {"path": str(data), **meta, "recipe_dataset": dataset}
    try:
        history = train(model, images, out, config, data_info=data_info, progress=not quiet,
                        resume=resume, force=force)
    except TrainingInterrupted as exc:
        if main_rank:
            typer.echo(f"interrupted: {as_flags(str(exc))}", err=True)
        raise typer.Exit(128 + exc.signum) from None
    if main_rank:
        from genprior.models.checkpoint import read_config

        training = read_config(out)["training"]
        last = {k: f"{v:.4g}" for k, v in (history[-1] if history else {}).items() if k not in ("step", "seconds")}
        typer.echo(f"trained {kind.upper()} to step {training['steps_done']} of {config.steps} in "
                   f"{training['seconds']:.1f} s ({training['stopped']}); last losses {last}; checkpoint in {out}")


def _warn_duplicates(data: Path, train_images) -> None:
    """Warn (stderr) when test images of the data file are copies of training images."""
    from genprior.data.io import count_duplicates, load_images

    try:
        test = load_images(data, "test")
    except ValueError:
        return  # no usable test split: nothing to compare
    if test.shape[1:] != train_images.shape[1:]:
        return
    copies = count_duplicates(train_images, test)
    if copies:
        typer.echo(f"warning: {copies} of {test.shape[0]} test images in {data} also appear in its train split; "
                   "test scores on them measure memory, not generalisation", err=True)


@functools.cache
def _recipe_values(kind: str, preset: str, dataset: str) -> dict[str, Any]:
    """Every setting the recipe of ``kind`` gives on ``dataset`` for ``preset``: architecture, training, the kind's own."""
    from genprior.training.recipes import recipe_settings

    model_config, train_config = recipe_settings(kind, dataset, preset, 28)
    return {"preset": preset, "latent_dim": model_config.latent_dim, "width": model_config.width,
            **model_config.settings.values(), **train_config.values()}


def _recipe_default(kind: str, field: dataclasses.Field) -> str:
    """What an omitted option of ``kind`` becomes: the recipe's value, by preset and data set."""
    from genprior.models.config import presets_of
    from genprior.training.recipes import DATASETS

    values = {(preset, dataset): _recipe_values(kind, preset, dataset)[field.name]
              for preset in presets_of(kind) for dataset in DATASETS}
    if field.name == "preset":
        values = {key: field.default for key in values}  # the preset is chosen, not given by a recipe
    text = {key: f"{v:g}" if isinstance(v, float) else str(v) for key, v in values.items() if v is not None}
    if len(set(text.values())) <= 1:
        return next(iter(text.values()), "none")
    for position in (0, 1):  # the value depends on the preset only, or on the data set only
        groups: dict[str, set[str]] = {}
        for key, value in text.items():
            groups.setdefault(key[position], set()).add(value)
        if all(len(group) == 1 for group in groups.values()):
            return ", ".join(f"{group.pop()} {name}" for name, group in groups.items())
    return ", ".join(f"{value} {preset} {dataset}" for (preset, dataset), value in text.items())


def _command(kind: str) -> Callable[..., None]:
    """The ``genprior train KIND`` command: data and run options, then one option per field of the
    kind's architecture (:func:`~genprior.models.config.architecture_of`), of the training settings
    (:class:`~genprior.training.config.TrainConfig`) and of the kind's own settings."""
    from genprior.models.config import architecture_of
    from genprior.training.config import TrainConfig

    architecture = Generated("architecture", {kind: architecture_of(kind)}, defaults=_recipe_default)
    training = Generated("training", {kind: TrainConfig}, defaults=_recipe_default)
    settings = Generated("model kind", {kind: MODEL_KINDS[kind].settings}, defaults=_recipe_default)

    @with_options(architecture, training, settings)
    def command(
        data: Path = DataOpt, out: Path = OutOpt, resume: bool = ResumeOpt, force: bool = ForceOpt,
        quiet: bool = QuietOpt, **options: Any,  # generated (genprior.cli.generated)
    ) -> None:
        _run(kind, data, out, {**training.values(kind, options), "resume": resume, "force": force, "quiet": quiet},
             {**architecture.values(kind, options), **settings.values(kind, options)})

    command.__doc__ = f"Train {MODEL_KINDS[kind].summary}."
    return command


for _kind in MODEL_KINDS:
    train_app.command(_kind)(_command(_kind))
