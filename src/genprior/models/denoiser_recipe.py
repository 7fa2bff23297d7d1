"""The denoiser's training recipe: compact only (the paper trains no denoiser).

Per data set (``None``: an unknown one, Shapes' settings with the default ``sigma_data``)::

    | data set | image | UNet channels (levels) | batch | steps | sigma_data |
    | MNIST    | 28    | 16, 32, 64 (3)         | 32    | 6,000 | 0.336      |
    | Shapes   | 56    | 16, 32, 64 (3)         | 16    | 3,000 | 0.176      |
    | knee     | 128   | 16, 32, 64, 64 (4)     | 16    | 3,000 | 0.25       |

One residual block per level; Adam 1e-3 with cosine decay; noise levels ``[0.005, 2.5]``
(the report card's 0.025-0.4 and a plug-and-play schedule from 49/255 lie inside; a
diffusion sampler starts at 2.5, over seven times the data's scale); weight average
0.999.  ``sigma_data`` is the root mean square of the training pixels (MNIST 0.336,
Shapes 0.176 measured on their training sets; the ellipse stand-in for the knee images
0.238).

Evidence (benchmarks/RESULTS.md, "bench_denoiser"; each variant the same CPU time on one
thread): Adam 1e-3 and 2e-3 tie and 5e-4 is 0.4-0.8 dB lower; the width-16 UNet with 3x
the steps beats the width-32 one (1.55M parameters) by 0.5-0.8 dB at every noise level;
batch 32 beats 64 on MNIST by 0.2-0.6 dB and batch 16 beats 32 on Shapes by 0.8-3.0 dB
(more updates for the same time).  The steps fit about 16-22 minutes of CPU time on one
thread of this 2-core machine (MNIST 0.16-0.22 s per step, Shapes 0.38-0.43 s); on the
shared, loaded machine the wall time was 1.7-3x that.  The knee recipe takes about 1.5
hours of CPU (1.75 s per step): a GPU run, or fewer steps.
"""

from __future__ import annotations

from genprior.errors import InputError
from genprior.models.recipes import Recipe

LR = 1e-3
SCHEDULE = "cosine"
SIGMA_DATA = {"mnist": 0.336, "shapes": 0.176, "knee": 0.25}
SIGMA_DATA_SOURCE = {"mnist": "the RMS of the MNIST training pixels", "shapes": "the RMS of the Shapes training pixels",
                     "knee": "about the RMS 0.238 of the ellipse stand-in; the knee images' not measured"}
BATCH = {"mnist": 32, "shapes": 16, "knee": 16}
STEPS = {"mnist": 6000, "shapes": 3000, "knee": 3000}
MODEL = {"mnist": {"width": 16, "levels": 3}, "shapes": {"width": 16, "levels": 3},
         "knee": {"width": 16, "levels": 4}}


def denoiser_recipe(dataset: str | None, preset: str) -> Recipe:
    """The compact recipe of the denoiser on ``dataset`` (module docstring); ``preset`` must be ``"compact"``."""
    if preset != "compact":
        raise InputError(f"the denoiser has no {preset!r} preset (the paper trains no denoiser); use compact")
    name = dataset or "shapes"
    model = {**MODEL[name], "sigma_data": SIGMA_DATA[name] if dataset else None}
    source = (f"compact denoiser: UNet width {model['width']}, {model['levels']} levels; Adam {LR:g} with {SCHEDULE} "
              f"decay, batch {BATCH[name]}, {STEPS[name] / 1000:g}k steps; sigma_data "
              + (f"{SIGMA_DATA[name]:g} ({SIGMA_DATA_SOURCE[name]})" if dataset else
                 "at its default (unknown data set: Shapes' other settings)"))
    return Recipe(None, LR, BATCH[name], STEPS[name], schedule=SCHEDULE,
                  model={k: v for k, v in model.items() if v is not None}, source=source)
