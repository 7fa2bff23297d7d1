"""PSNR, NRMSE and SSIM against hand values and scikit-image."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genprior.metrics import (
    PAPER_PSNR_OFFSET_DB,
    nrmse,
    psnr,
    psnr_paper_convention,
    ssim,
    summary,
)


def test_psnr_known_value():
    truth = torch.zeros(2, 1, 4, 4)
    x = truth + 0.1  # MSE 0.01 -> 20 dB with data range 1
    assert torch.allclose(psnr(x, truth), torch.full((2,), 20.0, dtype=torch.float64))
    assert math.isclose(float(psnr_paper_convention(20.0)), 26.0206, rel_tol=1e-4)
    assert math.isclose(PAPER_PSNR_OFFSET_DB, 20 * math.log10(2))


def test_nrmse_known_value():
    truth = torch.ones(1, 1, 2, 2)
    x = truth * 1.5
    assert torch.allclose(nrmse(x, truth), torch.tensor([0.5], dtype=torch.float64))


def test_ssim_matches_scikit_image(rng):
    skm = pytest.importorskip("skimage.metrics")
    truth = torch.rand(3, 1, 32, 32, generator=rng)
    x = (truth + 0.1 * torch.randn(truth.shape, generator=rng)).clamp(0, 1)
    ours = ssim(x, truth)
    for i in range(3):
        ref = skm.structural_similarity(x[i, 0].numpy().astype(np.float64), truth[i, 0].numpy().astype(np.float64),
                                        data_range=1.0)
        assert abs(float(ours[i]) - ref) < 1e-6
    assert torch.allclose(ssim(truth, truth), torch.ones(3, dtype=torch.float64))
    assert ssim(x, truth, gaussian=True).shape == (3,)


def test_metrics_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 5, 5))
    with pytest.raises(ValueError, match="smaller than the SSIM window"):
        ssim(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))


def test_summary():
    s = summary(torch.tensor([1.0, 2.0, 3.0]))
    assert s["mean"] == 2.0 and s["min"] == 1.0 and s["max"] == 3.0 and s["median"] == 2.0
    assert math.isclose(s["std"], math.sqrt(2 / 3))
