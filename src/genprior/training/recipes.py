"""The training recipe of a model kind, data set and preset, as a model and training configuration.

The recipes themselves belong to the model classes (``GenerativeModel.recipe``; the
built-in kinds' in :mod:`genprior.models.recipes`, with the evidence for the compact
ones).  This module finds the recipe's data set from a data file (:func:`dataset_of`)
and turns a recipe plus a user's overrides into a
:class:`~genprior.models.config.ModelConfig` and a
:class:`~genprior.training.config.TrainConfig` (:func:`recipe_settings`).

Every value can be overridden (CLI flags ``--lr``, ``--batch-size``, ``--kl-weight``,
``--critic-steps``, ``--schedule``, ``--steps`` ...).
"""

from __future__ import annotations

from typing import Any

from genprior.models.architectures import PRESETS
from genprior.models.kinds import get_kind, setting_names
from genprior.models.recipes import DATASETS, Recipe
from genprior.validation import check_choice

_SIZE_TO_DATASET = {28: "mnist", 56: "shapes", 128: "knee"}
_NAME_TO_DATASET = {"mnist": "mnist", "shapes": "shapes", "shapes-plus": "shapes", "fastmri": "knee",
                    "knee": "knee", "ellipses": "knee"}


def dataset_of(meta: dict[str, Any] | None, image_size: int) -> str | None:
    """The recipe's data set for a data file: its ``meta["dataset"]``, else the image size
    (28 MNIST, 56 Shapes, 128 knee); ``None`` if neither says."""
    name = str((meta or {}).get("dataset", "")).lower()
    if name in _NAME_TO_DATASET:
        return _NAME_TO_DATASET[name]
    return _SIZE_TO_DATASET.get(image_size)


def recipe(kind: str, dataset: str | None, preset: str = "compact") -> Recipe:
    """The default :class:`~genprior.models.recipes.Recipe` for ``kind`` on ``dataset`` (``None``:
    Shapes-like defaults): the one its model class carries (``GenerativeModel.recipe``), so a kind
    that subclasses another inherits its recipe."""
    check_choice(preset, PRESETS, "preset")
    if dataset is not None:
        check_choice(dataset, DATASETS, "recipe data set")
    return get_kind(kind).model_class.recipe(dataset, preset)


def recipe_settings(kind: str, dataset: str | None, preset: str, image_size: int, latent_dim: int | None = None,
                    model_overrides: dict[str, Any] | None = None, **train_overrides: Any):
    """The :class:`~genprior.models.config.ModelConfig` and
    :class:`~genprior.training.config.TrainConfig` of the recipe.

    The recipe of ``(kind, dataset, preset)`` gives the latent size (unless
    ``latent_dim``), its values of the kind's settings (the VAE's KL weight, the GAN's
    critic steps) and the optimiser settings; ``model_overrides`` (the kind's settings,
    ``width``) and ``train_overrides`` (``steps``, ``device``, ...) replace recipe values
    (``None`` values are ignored).
    """
    from genprior.models.config import ModelConfig
    from genprior.training.config import TrainConfig

    r = recipe(kind, dataset, preset)
    # the recipe's values of the model settings the kind has (VAE: kl_weight; GAN: critic_steps, widths, ...)
    extra = {k: v for k, v in r.model.items() if k in (*setting_names(kind), "width")}
    extra.update({k: v for k, v in (model_overrides or {}).items() if v is not None})
    model_config = ModelConfig(kind=kind, preset=preset, latent_dim=r.latent_dim if latent_dim is None else latent_dim,
                               image_size=image_size, **extra)
    defaults = {"steps": r.steps, "batch_size": r.batch_size, "lr": r.lr, "schedule": r.schedule, "betas": r.betas}
    return model_config, TrainConfig(**{**defaults, **{k: v for k, v in train_overrides.items() if v is not None}})


def recipe_configs(kind: str, dataset: str | None, preset: str, image_size: int, latent_dim: int | None = None,
                   **train_overrides: Any):
    """An untrained model and its ``TrainConfig`` from the recipe (:func:`recipe_settings`).

    The global torch seed is set to the config's seed before the model is built, so its
    initial weights are reproducible.

    Returns:
        ``(model, train_config)``.
    """
    import torch

    from genprior.models.checkpoint import build_model

    model_config, config = recipe_settings(kind, dataset, preset, image_size, latent_dim, **train_overrides)
    torch.manual_seed(config.seed)
    return build_model(model_config.to_dict()), config
