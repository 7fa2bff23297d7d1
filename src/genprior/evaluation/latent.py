"""The latent space: where the data live (criterion B2) and how smooth ``G`` is there (B1).

B2, known latent region (the paper's Figures 4 and 5).  The codes ``z*(x)`` found for
the test set (criterion A1) are compared with the prior ``N(0, I)``:

- per-dimension mean and standard deviation (the prior: 0 and 1);
- a normality statistic.  We use Kolmogorov-Smirnov (KS) statistics, which need no
  tables and read the same for every latent size: ``ks_norm``, the KS distance between
  the squared norms ``||z*||^2`` and the chi-square law with ``d`` degrees of freedom
  they have under the prior (it sees a wrong radius, the failure that matters for
  sampling), and ``ks_marginal_max``, the largest KS distance of one coordinate from
  ``N(0, 1)``.  Under the prior both stay below ``1.36 / sqrt(N)`` with 95% probability
  (``ks_critical``);
- ``kl_gaussian``: ``KL(N(m, C) || N(0, I))`` of the Gaussian fitted to the codes
  (mean ``m``, covariance ``C``), 0 when mean and covariance match the prior;
- random 2D projections with orthonormal rows (which map ``N(0, I_d)`` to ``N(0, I_2)``).

Far from the prior: ``G(r u)`` for ``u`` uniform on the unit sphere and radii ``r``
multiples of the typical radius ``sqrt(d)``.

B1, smoothness (Figure 6): the interpolation grid
``G(z1 + a1 (z2 - z1) + a2 (z3 - z1))``, and local Lipschitz estimates
``||G(z + e) - G(z)|| / ||e||`` with small random ``e`` at points along straight paths
between found codes.  These are in image-norm per latent-norm units, so they depend on
the scale of the latent space (an AE has no prior fixing it).
"""

from __future__ import annotations

import math
import time

import torch
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.evaluation.coverage import quantiles

KS_CRITICAL_95 = 1.358  # sqrt(-log(0.025) / 2): asymptotic 95% quantile of sqrt(N) * KS


@torch.no_grad()
def generate(generator: nn.Module, z: Tensor, batch_size: int = 1000) -> Tensor:
    """``G(z)`` in batches without gradients, in evaluation mode, returned on the CPU as float32."""
    from genprior.methods.common import placement

    was_training = generator.training
    generator.eval()
    device, dtype = placement(generator, z)
    try:
        out = [generator(z[i:i + batch_size].to(device, dtype)).cpu().float() for i in range(0, z.shape[0], batch_size)]
    finally:
        generator.train(was_training)
    return torch.cat(out)


def prior_samples(generator: nn.Module, n: int, seed: int = 0, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
    """``(z, G(z))`` for ``n`` draws ``z ~ N(0, I)``."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.latent_dim, generator=gen)
    return z, generate(generator, z, batch_size)


def _ks(sorted_values: Tensor, cdf: Tensor) -> float:
    """KS distance between the empirical law of ``sorted_values`` (ascending) and ``cdf`` at them."""
    n = sorted_values.numel()
    upper = torch.arange(1, n + 1, dtype=torch.float64) / n
    lower = torch.arange(0, n, dtype=torch.float64) / n
    return float(torch.maximum(upper - cdf, cdf - lower).max())


def ks_normal(values: Tensor) -> float:
    """KS distance between the sample ``values`` and ``N(0, 1)``."""
    v = values.to(torch.float64).reshape(-1).sort().values
    return _ks(v, torch.special.ndtr(v))


def ks_chi2(values: Tensor, dof: int) -> float:
    """KS distance between the sample ``values`` and the chi-square law with ``dof`` degrees of freedom."""
    v = values.to(torch.float64).reshape(-1).sort().values
    cdf = torch.special.gammainc(torch.tensor(dof / 2.0, dtype=torch.float64), v.clamp_min(0) / 2)
    return _ks(v, cdf)


def gaussian_kl_to_standard(codes: Tensor) -> float:
    """``KL(N(m, C) || N(0, I)) = (tr C + |m|^2 - d - log det C) / 2`` of the fitted Gaussian."""
    z = codes.to(torch.float64)
    d = z.shape[1]
    m = z.mean(0)
    C = torch.cov(z.T).reshape(d, d) if z.shape[0] > 1 else torch.eye(d, dtype=torch.float64)
    sign, logdet = torch.linalg.slogdet(C)
    if sign <= 0:
        return math.inf
    return float(0.5 * (torch.trace(C) + m.dot(m) - d - logdet))


def random_projections(latent_dim: int, k: int = 3, seed: int = 0) -> Tensor:
    """``k`` random projections ``R^d -> R^2`` with orthonormal rows, ``[k, 2, d]``."""
    if latent_dim < 2:
        raise InputError(f"2D projections need a latent dimension >= 2, got {latent_dim}")
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(k, latent_dim, 2, generator=gen, dtype=torch.float64))  # [k, d, 2]
    return q.transpose(1, 2)


def latent_statistics(codes: Tensor, projections: int = 3, seed: int = 0) -> dict:
    """Criterion B2: how far the found codes ``z*(x)`` ``[N, d]`` are from ``N(0, I)``.

    Returns:
        JSON-ready ``summary`` (``mean``/``std`` per dimension, ``mean_abs_mean``,
        ``mean_std``, ``norm_over_sqrt_d`` (median ``||z|| / sqrt(d)``; about 1 under the prior),
        ``ks_norm``, ``ks_marginal`` (per dimension) and ``ks_marginal_max``, ``ks_critical``,
        ``kl_gaussian``), and tensors ``projected_codes`` ``[k, N, 2]`` and ``projected_prior``
        ``[k, N, 2]`` (as many ``N(0, I)`` draws, same projections) for the figure.
    """
    z = codes.detach().to(torch.float64).cpu()
    N, d = z.shape
    gen = torch.Generator().manual_seed(seed + 1)
    prior = torch.randn(N, d, generator=gen, dtype=torch.float64)
    marginal = [ks_normal(z[:, i]) for i in range(d)]
    out = {
        "n": N, "latent_dim": d,
        "mean": [float(v) for v in z.mean(0)], "std": [float(v) for v in z.std(0, unbiased=False)],
        "mean_abs_mean": float(z.mean(0).abs().mean()), "mean_std": float(z.std(0, unbiased=False).mean()),
        "norm_over_sqrt_d": float((z.norm(dim=1) / math.sqrt(d)).median()),
        "ks_norm": ks_chi2(z.pow(2).sum(1), d),
        "ks_marginal": marginal, "ks_marginal_max": max(marginal),
        "ks_critical": KS_CRITICAL_95 / math.sqrt(N),
        "kl_gaussian": gaussian_kl_to_standard(z),
    }
    summary = dict(out)
    tensors = {}
    if d >= 2 and projections > 0:
        P = random_projections(d, projections, seed)  # [k, 2, d]
        tensors = {"projected_codes": torch.einsum("kjd,nd->knj", P, z),
                   "projected_prior": torch.einsum("kjd,nd->knj", P, prior)}
    return {"summary": summary, **tensors}


def far_from_prior_samples(generator: nn.Module, radii: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0), n: int = 8,
                           seed: int = 0, reference: Tensor | None = None) -> dict:
    """Far-from-prior samples ``G(r sqrt(d) u)``, ``u`` uniform on the unit sphere.

    Args:
        radii: multiples of the typical radius ``sqrt(d)`` of ``N(0, I_d)`` draws.
        n: samples per radius (the same directions ``u`` for every radius).
        reference: test images; if given, the median distance of the samples at each radius to
            their nearest reference image is reported (it grows as samples stop looking like data).

    Returns:
        ``images`` ``[R, n, 1, H, W]`` and a ``summary`` with, per radius, the fraction of
        pixels outside [0, 1] and (with ``reference``) ``median_nn_distance``.
    """
    from genprior.evaluation.distances import nearest_neighbours

    d = generator.latent_dim
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(n, d, generator=gen)
    u = u / u.norm(dim=1, keepdim=True)
    z = torch.cat([r * math.sqrt(d) * u for r in radii])  # [R n, d]
    images = generate(generator, z)
    rows = []
    for k, r in enumerate(radii):
        block = images[k * n:(k + 1) * n]
        row = {"radius_factor": float(r), "radius": float(r * math.sqrt(d)),
               "outside_unit_range": float(((block < 0) | (block > 1)).float().mean())}
        if reference is not None:
            row["median_nn_distance"] = float(nearest_neighbours(block, reference)[0].median())
        rows.append(row)
    return {"images": images.reshape(len(radii), n, *images.shape[1:]), "summary": {"radii": rows}}


def interpolation_grid(generator: nn.Module, z1: Tensor, z2: Tensor, z3: Tensor,
                       alphas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)) -> Tensor:
    """``G(z1 + a1 (z2 - z1) + a2 (z3 - z1))`` for ``a1`` (rows) and ``a2`` (columns) in ``alphas``.

    Returns:
        ``[A, A, 1, H, W]``: entry ``[0, 0]`` is ``G(z1)``, ``[-1, 0]`` is ``G(z2)``, ``[0, -1]`` is ``G(z3)``.
    """
    a = torch.tensor(alphas, dtype=z1.dtype)
    A = a.numel()
    z = z1 + a[:, None, None] * (z2 - z1) + a[None, :, None] * (z3 - z1)  # [A, A, d]
    images = generate(generator, z.reshape(A * A, -1))
    return images.reshape(A, A, *images.shape[1:])


def local_lipschitz(generator: nn.Module, codes: Tensor, n_paths: int = 100, n_points: int = 11,
                    n_directions: int = 4, eps: float = 1e-2, seed: int = 0) -> dict:
    """Criterion B1: ``||G(z + e) - G(z)|| / ||e||`` along straight paths between found codes.

    ``n_paths`` random pairs ``(z_i, z_j)`` of ``codes`` ``[N, d]``; points
    ``z_i + t (z_j - z_i)`` for ``n_points`` values of ``t`` in [0, 1]; at each point
    ``n_directions`` perturbations ``e = eps * u`` with ``u`` uniform on the unit sphere.

    Returns:
        ``values`` ``[n_paths * n_points * n_directions]`` and a ``summary`` with quantiles,
        mean, max and the settings.
    """
    if codes.shape[0] < 2:
        raise InputError("local Lipschitz estimates need at least 2 codes")
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    z = codes.detach().cpu().float()
    N, d = z.shape
    i = torch.randint(N, (n_paths,), generator=gen)
    j = (i + 1 + torch.randint(N - 1, (n_paths,), generator=gen)) % N  # j != i
    t = torch.linspace(0, 1, n_points)
    points = z[i, None, :] + t[None, :, None] * (z[j] - z[i])[:, None, :]  # [P, T, d]
    points = points.reshape(-1, 1, d).expand(-1, n_directions, d).reshape(-1, d)
    u = torch.randn(points.shape, generator=gen)
    e = eps * u / u.norm(dim=1, keepdim=True)
    g0 = generate(generator, points).to(torch.float64)
    g1 = generate(generator, points + e).to(torch.float64)
    values = (g1 - g0).reshape(points.shape[0], -1).norm(dim=1) / eps
    summary = {**quantiles(values, (0.05, 0.5, 0.95, 0.99)), "mean": float(values.mean()), "max": float(values.max()),
               "n_paths": n_paths, "n_points": n_points, "n_directions": n_directions, "eps": eps,
               "seconds": time.perf_counter() - start}
    return {"values": values, "summary": summary}
