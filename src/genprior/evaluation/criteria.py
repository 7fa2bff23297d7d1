"""The paper's criteria for a generator used as a regulariser (Section 4), in one place.

Property A, the generator is faithful to the data distribution:

- **A1**, range coverage: :func:`range_coverage` (``z*(x)`` for test images, NRMSE).
- **A2**, nothing else in range: :func:`off_distribution_fit` on
  :func:`off_distribution_images` (noise, inverted, shifted, another data set).
- **A3**, distance between distributions: :func:`distribution_distance` (exact EMD with
  POT and a sliced-Wasserstein estimate) on :func:`prior_samples`.
- Memorisation (the paper's warning about EMD): :func:`memorisation`.

Property B, the generator is searchable by descent:

- **B2**, known latent region: :func:`latent_statistics` of the found codes,
  :func:`far_from_prior_samples`.
- **B1**, smoothness: :func:`interpolation_grid`, :func:`local_lipschitz`.

Each function takes tensors and a generator and returns plain dicts (tensors for the
per-image values, a JSON-ready ``summary``); :mod:`genprior.evaluation.report` runs
them all and writes the report card.
"""

from __future__ import annotations

from genprior.evaluation.coverage import (
    A1_SOLVER,
    THRESHOLDS,
    auroc,
    default_init,
    off_distribution_fit,
    off_distribution_images,
    range_coverage,
    resize_images,
)
from genprior.evaluation.distances import (
    distribution_distance,
    exact_emd,
    memorisation,
    nearest_neighbours,
    sliced_wasserstein,
)
from genprior.evaluation.latent import (
    far_from_prior_samples,
    generate,
    interpolation_grid,
    latent_statistics,
    local_lipschitz,
    prior_samples,
    random_projections,
)

__all__ = [
    "A1_SOLVER", "THRESHOLDS", "auroc", "default_init", "distribution_distance", "exact_emd", "far_from_prior_samples",
    "generate", "interpolation_grid", "latent_statistics", "local_lipschitz", "memorisation",
    "nearest_neighbours", "off_distribution_fit", "off_distribution_images", "prior_samples",
    "random_projections", "range_coverage", "resize_images", "sliced_wasserstein",
]
