"""Encoder and decoder networks: the paper's Appendix B and compact CPU presets.

Every decoder maps ``[B, d] -> [B, 1, n, n]``; every encoder maps ``[B, 1, n, n] ->
[B, k]`` (``k = d`` for an AE, ``2 d`` for a VAE, ``1`` for a GAN critic).  The same
decoder serves AE, VAE and GAN, as in the paper.

Presets:
    ``compact`` (default): strided convolutions with ``width`` channels at full
        resolution doubling at each halving, LeakyReLU, and a linear output (as the
        paper's; a sigmoid output stalled training for hundreds of steps at the mean
        image on Shapes); sized to train in minutes on two CPU cores.
    ``paper``: Appendix B.  MNIST (28x28, Figure B2) and Shapes (56x56, Figure B3):
        kernel-4 convolutions with 64 filters, LeakyReLU 0.3 (ReLU in the MNIST
        decoder), dropout 0.2 (keep 0.8) after each convolution, and a final dense layer
        from ``64 n^2`` features to ``n^2`` pixels with linear output.  Where the
        figures' strides and sizes disagree (Figure B3 lists decoder strides [2, 2, 1]
        but a [n, n, 64] output from [n/8, n/8, 1]) we follow the stated sizes.
        Knee (128x128, Figure B4, the paper's VAE for fastMRI): 3x3 convolutions in
        blocks (see :func:`knee_encoder`, :func:`knee_decoder`).  Where a block's
        listed sizes disagree, the block's stated *output size* wins: the decoder's
        dense layer is listed as ``[n^2/8]`` but is reshaped to ``[n/16, n/16, 16]``
        (``n^2/16`` values), so it has ``n^2/16`` outputs; the last stride-2 block lists
        filters ``[32, 16, 8, 4]`` but an output ``[n, n, 8]``, so its last filter count
        is 8.  The output layer (3x3 convolution to one channel, ReLU, as stated) has no
        dropout after it (dropout on the output image would corrupt the reconstruction
        term).  The AE and GAN critic at 128x128 reuse the same encoder with ``d`` and 1
        outputs.
"""

from __future__ import annotations

import math

from torch import nn

from genprior.errors import InputError

PRESETS = ("compact", "paper")
COMPACT_WIDTH = 16  # the compact nets' channels at full resolution
LEAKY_SLOPE = 0.3
DROPOUT = 0.2  # the paper's keep probability 0.8


class Reshape(nn.Module):
    """Reshape ``[B, ...] -> [B, *shape]``."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


def compact_levels(image_size: int) -> tuple[int, int]:
    """``(halvings, base)``: halve ``image_size`` until it is odd or at most 8 (at most 4 times)."""
    if image_size < 8:
        raise InputError(f"image size must be at least 8, got {image_size}")
    levels, base = 0, image_size
    while base % 2 == 0 and base > 8 and levels < 4:
        base //= 2
        levels += 1
    if levels == 0:
        raise InputError(f"image size {image_size} must be divisible by 2 for the compact preset")
    return levels, base


def compact_encoder(image_size: int, out_features: int, width: int = COMPACT_WIDTH) -> nn.Sequential:
    """Strided-conv encoder: ``[B, 1, n, n] -> [B, out_features]``."""
    levels, base = compact_levels(image_size)
    layers: list[nn.Module] = []
    c_in = 1
    for i in range(levels):
        c_out = width * 2**i
        layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]  # [B, c_out, n/2^(i+1), .]
        c_in = c_out
    layers += [nn.Flatten(), nn.Linear(c_in * base * base, out_features)]
    return nn.Sequential(*layers)


def compact_decoder(latent_dim: int, image_size: int, width: int = COMPACT_WIDTH) -> nn.Sequential:
    """Transposed-conv decoder: ``[B, d] -> [B, 1, n, n]`` (linear output)."""
    levels, base = compact_levels(image_size)
    c = width * 2 ** (levels - 1)
    layers: list[nn.Module] = [
        nn.Linear(latent_dim, c * base * base), nn.LeakyReLU(0.2), Reshape(c, base, base),  # [B, c, base, base]
    ]
    for i in range(levels - 1, -1, -1):
        c_out = width * 2 ** (i - 1) if i > 0 else width
        layers += [nn.ConvTranspose2d(c, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]  # doubles H, W
        c = c_out
    layers += [nn.Conv2d(c, 1, 3, padding=1)]  # [B, 1, n, n]
    return nn.Sequential(*layers)


def _down(c_in: int, c_out: int, stride: int, act: nn.Module) -> list[nn.Module]:
    pad = 1 if stride == 2 else "same"
    return [nn.Conv2d(c_in, c_out, 4, stride=stride, padding=pad), act, nn.Dropout(DROPOUT)]


def _up(c_in: int, c_out: int, stride: int, act: nn.Module) -> list[nn.Module]:
    if stride == 2:
        conv: nn.Module = nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)
    else:  # a stride-1 transposed convolution with 'same' padding is a convolution
        conv = nn.Conv2d(c_in, c_out, 4, padding="same")
    return [conv, act, nn.Dropout(DROPOUT)]


def paper_encoder(image_size: int, out_features: int) -> nn.Sequential:
    """Appendix B encoder/critic for MNIST (Figure B2) or Shapes (Figure B3)."""
    strides = {28: (2, 2, 1), 56: (1, 2, 2)}.get(image_size)
    if strides is None:
        raise InputError(f"the paper preset has MNIST (28) and Shapes (56) encoders; got image size {image_size}")
    layers: list[nn.Module] = []
    c_in = 1
    for s in strides:
        layers += _down(c_in, 64, s, nn.LeakyReLU(LEAKY_SLOPE))
        c_in = 64
    n4 = image_size // 4
    layers += [nn.Flatten(), nn.Linear(64 * n4 * n4, out_features)]  # [B, 64 (n/4)^2] -> [B, k]
    return nn.Sequential(*layers)


def paper_decoder(latent_dim: int, image_size: int) -> nn.Sequential:
    """Appendix B decoder/generator for MNIST (Figure B2) or Shapes (Figure B3)."""
    n = image_size
    if n == 28:
        head: list[nn.Module] = [
            nn.Linear(latent_dim, 25), nn.LeakyReLU(LEAKY_SLOPE),
            nn.Linear(25, n * n // 16), nn.LeakyReLU(LEAKY_SLOPE), Reshape(1, n // 4, n // 4),  # [B, 1, 7, 7]
        ]
        strides, act = (1, 2, 2), nn.ReLU
    elif n == 56:
        head = [nn.Linear(latent_dim, n * n // 64), nn.LeakyReLU(LEAKY_SLOPE), Reshape(1, n // 8, n // 8)]  # [B, 1, 7, 7]
        strides, act = (2, 2, 2), lambda: nn.LeakyReLU(LEAKY_SLOPE)
    else:
        raise InputError(f"the paper preset has MNIST (28) and Shapes (56) decoders; got image size {n}")
    layers = head
    c_in = 1
    for s in strides:
        layers += _up(c_in, 64, s, act())
        c_in = 64
    layers += [nn.Flatten(), nn.Linear(64 * n * n, n * n), Reshape(1, n, n)]  # [B, 64 n^2] -> [B, 1, n, n]
    return nn.Sequential(*layers)


def _conv_block(c_in: int, filters: list[int], strides: list[int], act, up: bool) -> tuple[list[nn.Module], int]:
    """A Figure B1 block of 3x3 convolutions (transposed when ``up``), each followed by
    ``act()`` and dropout; returns the layers and the output channel count."""
    layers: list[nn.Module] = []
    for f, s in zip(filters, strides):
        if s == 1:  # stride-1 'same' (transposed) convolution
            conv: nn.Module = nn.Conv2d(c_in, f, 3, padding=1)
        elif up:  # [B, c, h, w] -> [B, f, 2h, 2w], TensorFlow's 'same' transposed convolution
            conv = nn.ConvTranspose2d(c_in, f, 3, stride=2, padding=1, output_padding=1)
        else:  # [B, c, h, w] -> [B, f, h/2, w/2]
            conv = nn.Conv2d(c_in, f, 3, stride=2, padding=1)
        layers += [conv, act(), nn.Dropout(DROPOUT)]
        c_in = f
    return layers, c_in


def _check_knee_size(image_size: int) -> None:
    if image_size % 16:
        raise InputError(f"the knee architecture needs an image size divisible by 16, got {image_size}")


def knee_encoder(image_size: int, out_features: int) -> nn.Sequential:
    """Figure B4 encoder (fastMRI knee VAE): ``[B, 1, n, n] -> [B, out_features]``."""
    _check_knee_size(image_size)
    act = lambda: nn.LeakyReLU(LEAKY_SLOPE)  # noqa: E731
    layers: list[nn.Module] = []
    c = 1
    for filters, strides in (
        ([8, 16, 32], [1, 1, 1]),  # [B, 32, n, n]
        ([64] * 3, [2, 1, 1]),  # [B, 64, n/2, n/2]
        ([128] * 3, [2, 1, 1]),  # [B, 128, n/4, n/4]
        ([256] * 3, [2, 1, 1]),  # [B, 256, n/8, n/8]
        ([64, 32, 8], [1, 1, 1]),  # [B, 8, n/8, n/8]
    ):
        block, c = _conv_block(c, filters, strides, act, up=False)
        layers += block
    n8 = image_size // 8
    layers += [nn.Flatten(), nn.Linear(c * n8 * n8, out_features)]  # [B, n^2/8] -> [B, k]
    return nn.Sequential(*layers)


def knee_decoder(latent_dim: int, image_size: int) -> nn.Sequential:
    """Figure B4 decoder (fastMRI knee VAE): ``[B, d] -> [B, 1, n, n]`` (ReLU output)."""
    _check_knee_size(image_size)
    n16 = image_size // 16
    layers: list[nn.Module] = [
        nn.Linear(latent_dim, 16 * n16 * n16), nn.ReLU(), nn.Dropout(DROPOUT), Reshape(16, n16, n16),  # [B, 16, n/16, n/16]
    ]
    c = 16
    for filters, strides in (
        ([32, 64, 128, 256], [1, 1, 1, 1]),  # [B, 256, n/16, n/16]
        ([512] * 4, [1, 1, 1, 1]),  # [B, 512, n/16, n/16]
        ([256] * 4, [2, 1, 1, 1]),  # [B, 256, n/8, n/8]
        ([128] * 4, [2, 1, 1, 1]),  # [B, 128, n/4, n/4]
        ([64] * 4, [2, 1, 1, 1]),  # [B, 64, n/2, n/2]
        ([32, 16, 8, 8], [2, 1, 1, 1]),  # [B, 8, n, n] (the figure's last filter count 4 contradicts its output size)
    ):
        block, c = _conv_block(c, filters, strides, nn.ReLU, up=True)
        layers += block
    layers += [nn.Conv2d(c, 1, 3, padding=1), nn.ReLU()]  # [B, 1, n, n]
    return nn.Sequential(*layers)


PAPER_SIZES = (28, 56, 128)


def _paper_size(image_size: int) -> None:
    if image_size not in PAPER_SIZES:
        raise InputError(
            f"the paper preset has MNIST (28), Shapes (56) and knee (128) architectures; got image size "
            f"{image_size}; use `preset=\"compact\"` for other sizes"
        )


def build_encoder(preset: str, image_size: int, out_features: int, width: int | None = None) -> nn.Sequential:
    """The encoder (AE, VAE) or critic (GAN) of ``preset``: ``[B, 1, n, n] -> [B, out_features]``
    (``width``: the compact preset's channels at full resolution, default :data:`COMPACT_WIDTH`)."""
    if preset == "compact":
        return compact_encoder(image_size, out_features, width or COMPACT_WIDTH)
    if preset == "paper":
        _paper_size(image_size)
        return knee_encoder(image_size, out_features) if image_size == 128 else paper_encoder(image_size, out_features)
    raise InputError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")


def build_decoder(preset: str, latent_dim: int, image_size: int, width: int | None = None) -> nn.Sequential:
    """The decoder / generator of ``preset``: ``[B, d] -> [B, 1, n, n]`` (``width``: as
    :func:`build_encoder`)."""
    if preset == "compact":
        return compact_decoder(latent_dim, image_size, width or COMPACT_WIDTH)
    if preset == "paper":
        _paper_size(image_size)
        return knee_decoder(latent_dim, image_size) if image_size == 128 else paper_decoder(latent_dim, image_size)
    raise InputError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")


def count_parameters(module: nn.Module) -> int:
    return sum(math.prod(p.shape) for p in module.parameters())
