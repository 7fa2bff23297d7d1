"""Distances between image sets: the paper's EMD (criterion A3), a sliced estimate, and
a memorisation check on nearest-neighbour distances.

EMD.  For test images ``x_1..x_N`` and generated images ``G(z_1)..G(z_M)``,
``z_j ~ N(0, I)``, the exact optimal-transport cost with squared Euclidean ground cost
and uniform weights ``1/N`` and ``1/M`` (POT's ``ot.emd2``, network simplex):

    EMD = min_P sum_ij P_ij ||x_i - G(z_j)||^2,  P 1 = 1/N,  P^T 1 = 1/M,  P >= 0.

With ``N = M`` the optimum is a permutation, so this is the *mean* squared distance of
the optimally matched pairs: the paper's equation (10) divided by ``N``.

Sliced Wasserstein.  ``SW_2^2 = E_theta W_2^2(theta#mu, theta#nu)`` over directions
``theta`` uniform on the sphere of ``R^D``, estimated with random directions (POT's
``ot.sliced_wasserstein_distance``, squared).  Projecting any coupling shows
``D * SW_2^2 <= EMD``, with equality when one set is a translate of the other, so
``D * SW_2^2 / EMD`` in ``[0, 1]`` says how much of the EMD the cheap estimate sees.

Memorisation.  A generator that copies its training set scores perfectly on EMD (the
paper, Section 4.2).  Following the data-copying test of Meehan, Chaudhuri and
Dasgupta (AISTATS 2020) we compare the distance from each generated image to its
nearest *training* image with the same distance for unseen *test* images: generated
images much closer to the training set than test images are (P(gen farther) << 0.5,
many below the test distances' 5% quantile) are copies; much farther
(P >> 0.5) is underfitting; and the number of distinct training images that are
somebody's nearest neighbour reveals mode collapse.
"""

from __future__ import annotations

import math
import time
import warnings

import torch
from torch import Tensor

from genprior.errors import InputError


def flat64(images: Tensor) -> Tensor:
    """``[N, ...] -> [N, D]`` in float64 on the CPU."""
    return images.detach().reshape(images.shape[0], -1).to("cpu", torch.float64)


def exact_emd(a: Tensor, b: Tensor, num_iter_max: int = 10**9) -> dict:
    """Exact EMD between two image sets (uniform weights, squared Euclidean cost).

    Args:
        a: ``[N, ...]`` images (flattened internally).
        b: ``[M, ...]`` images of the same size.
        num_iter_max: network-simplex iteration limit; POT's default (1e5) stops far short of
            the optimum for N in the thousands, so the default here is effectively unlimited.

    Returns:
        ``{"emd", "n", "m", "converged", "result_code", "warning", "cost_seconds", "seconds"}``:
        ``converged`` is False (and ``warning`` holds POT's message) when the solver stopped
        before optimality; ``seconds`` covers the cost matrix and the solve.
    """
    import ot

    A, B = flat64(a), flat64(b)
    if A.shape[1] != B.shape[1]:
        raise InputError(f"image sets differ in size: {A.shape[1]} vs {B.shape[1]} pixels")
    start = time.perf_counter()
    M = torch.cdist(A, B).pow_(2).numpy()  # [N, M] float64 (800 MB at N = M = 10,000)
    cost_seconds = time.perf_counter() - start
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value, log = ot.emd2([], [], M, numItermax=int(num_iter_max), log=True)
    del M
    messages = [str(w.message) for w in caught] + ([log["warning"]] if log.get("warning") else [])
    code = int(log.get("result_code", -1))
    return {
        "emd": float(value), "n": int(A.shape[0]), "m": int(B.shape[0]), "converged": code == 1,
        "result_code": code, "warning": "; ".join(messages) or None,
        "cost_seconds": cost_seconds, "seconds": time.perf_counter() - start,
    }


def sliced_wasserstein(a: Tensor, b: Tensor, n_projections: int = 1000, seed: int = 0) -> dict:
    """Sliced Wasserstein estimate ``SW_2^2`` (squared) with ``n_projections`` random directions.

    Returns:
        ``{"sw2", "scaled", "dimension", "n_projections", "seconds"}`` where ``scaled = D * sw2``
        is comparable with (and at most) the exact EMD.
    """
    import ot

    A, B = flat64(a).numpy(), flat64(b).numpy()
    start = time.perf_counter()
    sw = ot.sliced_wasserstein_distance(A, B, n_projections=int(n_projections), p=2, seed=int(seed))
    sw2 = float(sw) ** 2
    return {"sw2": sw2, "scaled": A.shape[1] * sw2, "dimension": int(A.shape[1]),
            "n_projections": int(n_projections), "seconds": time.perf_counter() - start}


def distribution_distance(test_images: Tensor, generated: Tensor, exact: bool = True,
                          n_projections: int = 1000, seed: int = 0) -> dict:
    """Criterion A3: exact EMD and the sliced estimate between test and generated images.

    Returns:
        ``{"emd": exact_emd(...) or None, "sliced": sliced_wasserstein(...), "agreement"}``
        where ``agreement = D * SW_2^2 / EMD`` (None without the exact value).
    """
    if test_images.shape[1:] != generated.shape[1:]:
        raise InputError(f"test and generated images differ in shape: {list(test_images.shape[1:])} "
                         f"vs {list(generated.shape[1:])}")
    emd = exact_emd(test_images, generated) if exact else None
    sliced = sliced_wasserstein(test_images, generated, n_projections, seed)
    agreement = sliced["scaled"] / emd["emd"] if emd is not None and emd["emd"] > 0 else None
    return {"emd": emd, "sliced": sliced, "agreement": agreement}


def nearest_neighbours(queries: Tensor, reference: Tensor, chunk: int = 2048) -> tuple[Tensor, Tensor]:
    """Euclidean distance from each query to its nearest reference image, and that image's index.

    Computed in float32 by ``||q||^2 + ||r||^2 - 2 <q, r>`` in ``chunk x chunk`` blocks, so
    memory stays at ``chunk^2`` floats whatever the set sizes.

    Returns:
        ``(distances [N] float64, indices [N] int64)``.
    """
    Q = queries.detach().reshape(queries.shape[0], -1).float()
    R = reference.detach().reshape(reference.shape[0], -1).float()
    if Q.shape[1] != R.shape[1]:
        raise InputError(f"image sets differ in size: {Q.shape[1]} vs {R.shape[1]} pixels")
    best = torch.full((Q.shape[0],), math.inf)
    index = torch.zeros(Q.shape[0], dtype=torch.long)
    q2_all = Q.pow(2).sum(1)
    for r0 in range(0, R.shape[0], chunk):
        Rc = R[r0:r0 + chunk]
        r2 = Rc.pow(2).sum(1)
        for q0 in range(0, Q.shape[0], chunk):
            d2 = (q2_all[q0:q0 + chunk, None] + r2[None, :]).addmm_(Q[q0:q0 + chunk], Rc.T, alpha=-2.0)  # [q, r]
            val, arg = d2.min(1)
            better = val < best[q0:q0 + chunk]
            best[q0:q0 + chunk] = torch.where(better, val, best[q0:q0 + chunk])
            index[q0:q0 + chunk] = torch.where(better, arg + r0, index[q0:q0 + chunk])
    # The expansion loses precision for close pairs: recompute each found pair's distance directly,
    # so that a test image copied in the training set is at distance 0, not at rounding noise.
    exact = torch.cat([(Q[q0:q0 + chunk].double() - R[index[q0:q0 + chunk]].double()).norm(dim=1)
                       for q0 in range(0, Q.shape[0], chunk)]) if Q.shape[0] else best.double()
    return exact, index


def prob_greater(a: Tensor, b: Tensor) -> tuple[float, float]:
    """Mann-Whitney: ``P(A > B) + P(A = B) / 2`` for samples ``a``, ``b``, and its z-score.

    The z-score ``(U - n m / 2) / sqrt(n m (n + m + 1) / 12)`` is Meehan et al.'s ``Z_U``
    (no tie correction).
    """
    a, b = a.to(torch.float64).reshape(-1), b.to(torch.float64).reshape(-1).sort().values
    below = torch.searchsorted(b, a, right=False).to(torch.float64)
    ties = torch.searchsorted(b, a, right=True).to(torch.float64) - below
    n, m = a.numel(), b.numel()
    U = float((below + 0.5 * ties).sum())
    z = (U - n * m / 2) / math.sqrt(n * m * (n + m + 1) / 12)
    return U / (n * m), z


def memorisation(generated: Tensor, train_images: Tensor, test_images: Tensor,
                 test_neighbours: tuple[Tensor, Tensor] | None = None, copy_quantile: float = 0.05,
                 chunk: int = 2048) -> dict:
    """Memorisation check: generated-to-train against test-to-train nearest-neighbour distances.

    Args:
        generated: ``[M, 1, H, W]`` samples ``G(z)``, ``z ~ N(0, I)``.
        train_images: the training set ``[T, 1, H, W]`` (or a subset of it).
        test_images: unseen images ``[N, 1, H, W]`` from the same distribution.
        test_neighbours: precomputed ``nearest_neighbours(test_images, train_images)`` (the
            part that does not depend on the model; pass it when comparing several models).
        copy_quantile: the test distances' quantile below which a sample counts as a copy.

    Returns:
        A dict with ``gen_distance`` / ``test_distance`` tensors and the statistics
        ``median_ratio`` (median gen / median test distance; about 1 is good, << 1 copying;
        ``None`` when the test median is 0 because the splits overlap), ``test_copies_in_train``,
        ``copy_fraction`` (fraction of samples closer than the ``copy_quantile`` quantile of
        test distances; about ``copy_quantile`` is good), ``p_gen_farther`` and ``z_score``
        (Mann-Whitney; 0.5 and 0 are good, low is copying, high is underfitting), and
        ``distinct_neighbours`` (distinct nearest training images of the samples over those of
        the test images; about 1 is good, near 0 is mode collapse).
    """
    if not 0 < copy_quantile < 1:
        raise InputError(f"copy_quantile must be in (0, 1), got {copy_quantile}")
    start = time.perf_counter()
    d_gen, i_gen = nearest_neighbours(generated, train_images, chunk)
    if test_neighbours is None:
        test_neighbours = nearest_neighbours(test_images, train_images, chunk)
    d_test, i_test = test_neighbours
    threshold = float(torch.quantile(d_test, copy_quantile))
    p, z = prob_greater(d_gen, d_test)
    # Distinct neighbours depend on the sample size: compare equal numbers of queries.
    k = min(d_gen.numel(), d_test.numel())
    distinct = i_gen[:k].unique().numel() / max(i_test[:k].unique().numel(), 1)
    return {
        "gen_distance": d_gen, "test_distance": d_test,
        "n_generated": int(d_gen.numel()), "n_test": int(d_test.numel()), "n_train": int(train_images.shape[0]),
        "median_gen_distance": float(d_gen.median()), "median_test_distance": float(d_test.median()),
        # With half the test images copied in the training set the test median is 0: the
        # ratio is undefined, and the splits overlap (reported instead of a huge number).
        "median_ratio": float(d_gen.median() / d_test.median()) if float(d_test.median()) > 0 else None,
        "test_copies_in_train": int((d_test == 0).sum()),
        "copy_quantile": copy_quantile, "copy_threshold": threshold,
        "copy_fraction": float((d_gen < threshold).to(torch.float64).mean()),
        "p_gen_farther": p, "z_score": z, "distinct_neighbours": float(distinct),
        "seconds": time.perf_counter() - start,
    }
