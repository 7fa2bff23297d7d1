"""The denoiser's training recipe: compact only (the paper trains no denoiser).

Per data set (``None``: an unknown one, Shapes' settings with the default ``sigma_data``):

| data set | image | UNet channels (levels, blocks) | batch | steps | sigma_data |
|---|---|---|---|---|---|
| MNIST  | 28  | 32, 64, 128 (3, 1) | 64 | see STEPS | 0.336 |
| Shapes | 56  | 32, 64, 128 (3, 1) | 32 | see STEPS | 0.176 |
| knee   | 128 | 32, 64, 128, 128 (4, 1) | 16 | see STEPS | 0.25 |

``sigma_data`` is the root mean square of the training pixels (MNIST 0.336, Shapes
0.176 measured on their training sets; the ellipse stand-in for the knee images 0.238).
Every recipe trains the noise levels ``[0.005, 2.5]`` (the evaluation's 0.025-0.4 and a
plug-and-play schedule from 49/255 lie inside; a diffusion sampler starts at 2.5, over
seven times the data's scale) with Adam and a weight average of decay 0.999.
"""

from __future__ import annotations

from genprior.errors import InputError
from genprior.models.recipes import Recipe

LR = 1e-3
SCHEDULE = "cosine"
SIGMA_DATA = {"mnist": 0.336, "shapes": 0.176, "knee": 0.25}
BATCH = {"mnist": 64, "shapes": 32, "knee": 16}
STEPS = {"mnist": 3000, "shapes": 3000, "knee": 3000}
MODEL = {"mnist": {"width": 32, "levels": 3}, "shapes": {"width": 32, "levels": 3},
         "knee": {"width": 32, "levels": 4}}


def denoiser_recipe(dataset: str | None, preset: str) -> Recipe:
    """The compact recipe of the denoiser on ``dataset`` (module docstring); ``preset`` must be ``"compact"``."""
    if preset != "compact":
        raise InputError(f"the denoiser has no {preset!r} preset (the paper trains no denoiser); use compact")
    name = dataset or "shapes"
    model = {**MODEL[name], "sigma_data": SIGMA_DATA[name] if dataset else None}
    source = (f"compact denoiser: UNet width {model['width']}, {model['levels']} levels; Adam {LR:g} with {SCHEDULE} "
              f"decay, batch {BATCH[name]}, {STEPS[name] / 1000:g}k steps; sigma_data "
              + (f"{SIGMA_DATA[name]:g} (the RMS of the {name} training pixels)" if dataset else
                 "at its default (unknown data set: Shapes' other settings)"))
    return Recipe(None, LR, BATCH[name], STEPS[name], schedule=SCHEDULE,
                  model={k: v for k, v in model.items() if v is not None}, source=source)
