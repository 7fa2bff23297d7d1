"""Forward operators of the paper's inverse problems, all with the ``LinearOperator`` contract.

Every operator maps ``[B, *in_shape]`` images to ``[B, *out_shape]`` measurements with
``A`` and its exact adjoint ``A_adjoint`` (the DeepInverse ``LinearPhysics`` names, so
a ``deepinv.physics`` object can be used in their place), and is rescaled to norm 1.
Optional parts for denoiser and diffusion methods: ``prox_l2`` (closed form or conjugate
gradient; :func:`prox_l2` serves any physics object) and an exact ``svd()`` where one
exists (:func:`has_svd`, :func:`require_svd`).
:func:`make_operator` builds one by problem name (the CLI's ``--problem``).
"""

from __future__ import annotations

from genprior.physics.blur import Blur, gaussian_kernel
from genprior.physics.compressed_sensing import CompressedSensing, gaussian_matrix
from genprior.physics.denoising import Identity
from genprior.physics.linear_solve import prox_l2
from genprior.physics.masks import Inpainting, random_pixels
from genprior.physics.operator import LinearOperator, adjointness_error, check_physics
from genprior.physics.problems import PROBLEMS, make_operator, problem_options
from genprior.physics.svd import has_svd, require_svd
from genprior.physics.tomography import ParallelBeamGeometry, Tomography

__all__ = [
    "PROBLEMS", "Blur", "CompressedSensing", "Identity", "Inpainting", "LinearOperator", "ParallelBeamGeometry",
    "Tomography", "adjointness_error", "check_physics", "gaussian_kernel", "gaussian_matrix", "has_svd",
    "make_operator", "problem_options", "prox_l2", "random_pixels", "require_svd",
]
