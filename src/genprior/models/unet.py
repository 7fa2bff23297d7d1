"""A small noise-conditional UNet ``F(x, c_noise)`` for 1-channel square images (no attention).

The network the denoiser preconditions (:mod:`genprior.models.denoiser`)::

    x [B, 1, n, n] -> 3x3 conv -> level 0 ... level L-1 -> middle -> level L-1 ... level 0 -> out [B, 1, n, n]

Level ``i`` works at size ``n_i = ceil(n / 2^i)`` with ``c_i`` channels (``channels``,
e.g. ``(32, 64, 64)``): ``blocks`` residual blocks on the way down, whose output is kept
as the skip connection, then a stride-2 3x3 convolution to level ``i + 1``; on the way
up, the coarser result is upsampled (nearest) to exactly the skip's size, concatenated
with it, and passed through ``blocks`` residual blocks.  Odd sizes need no care: the
stride-2 convolution rounds up (28 -> 14 -> 7 -> 4) and the upsampling returns to the
skip's size (4 -> 7), so any ``n >= 1`` works with any number of levels.

A residual block is ``x + conv(SiLU(GN(conv(SiLU(GN(x))) + W e))))``, GroupNorm with
up to 8 groups, the noise embedding ``e`` added per channel after the first convolution
(a 1x1 convolution on the skip path where the channels change; the second convolution
and the output layer start at zero, so the untrained network outputs 0).

Noise embedding: ``c_noise`` (a number per image; EDM's ``ln(sigma) / 4``) is expanded
into sinusoidal features ``cos(2 pi f_k c), sin(2 pi f_k c)`` at ``FREQUENCIES``
geometric frequencies ``f_k`` from 0.1 to 30 (a period from 10 units of ``c``, longer
than any range of noise levels, down to 0.03), then a two-layer SiLU MLP of width
``4 c_0``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FREQUENCIES = 32  # sinusoid frequencies of the noise embedding (64 features)
MAX_GROUPS = 8


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(channels, MAX_GROUPS), channels)


class NoiseEmbedding(nn.Module):
    """``c_noise [B] -> [B, dim]``: sinusoidal features at geometric frequencies, then an MLP."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        freqs = 2 * math.pi * torch.logspace(math.log10(0.1), math.log10(30.0), FREQUENCIES)
        self.register_buffer("frequencies", freqs, persistent=False)  # a constant, not a weight
        self.mlp = nn.Sequential(nn.Linear(2 * FREQUENCIES, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, c_noise: Tensor) -> Tensor:
        angles = c_noise[:, None] * self.frequencies.to(c_noise.dtype)  # [B, K]
        return self.mlp(torch.cat([angles.cos(), angles.sin()], dim=1))  # [B, dim]


class ResBlock(nn.Module):
    """``[B, c_in, h, w] -> [B, c_out, h, w]`` conditioned on the embedding ``[B, emb_dim]``."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = _norm(c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # [B, c_out, h, w]
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class UNet(nn.Module):
    """``F(x, c_noise)``: ``[B, 1, n, n], [B] -> [B, 1, n, n]``.

    Args:
        channels: ``c_i`` of each level (its length is the number of levels ``L``).
        blocks: residual blocks per level on each path.
    """

    def __init__(self, channels: Sequence[int], blocks: int = 1) -> None:
        super().__init__()
        channels = list(channels)
        emb_dim = 4 * channels[0]
        self.embedding = NoiseEmbedding(emb_dim)
        self.stem = nn.Conv2d(1, channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for i, c in enumerate(channels):
            self.down.append(nn.ModuleList(ResBlock(c, c, emb_dim) for _ in range(blocks)))
            if i + 1 < len(channels):
                self.downsample.append(nn.Conv2d(c, channels[i + 1], 3, stride=2, padding=1))
        self.middle = ResBlock(channels[-1], channels[-1], emb_dim)
        self.up = nn.ModuleList()
        for i, c in enumerate(channels):
            coarser = channels[min(i + 1, len(channels) - 1)]  # what arrives from below (the middle at the bottom)
            self.up.append(nn.ModuleList(ResBlock(coarser + c if k == 0 else c, c, emb_dim) for k in range(blocks)))
        self.out_norm = _norm(channels[0])
        self.out = nn.Conv2d(channels[0], 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, c_noise: Tensor) -> Tensor:
        emb = self.embedding(c_noise)  # [B, 4 c_0]
        h = self.stem(x)  # [B, c_0, n, n]
        skips = []
        for i, level in enumerate(self.down):
            for block in level:
                h = block(h, emb)  # [B, c_i, n_i, n_i]
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)  # [B, c_{i+1}, ceil(n_i / 2), ceil(n_i / 2)]
        h = self.middle(h, emb)  # [B, c_{L-1}, n_{L-1}, n_{L-1}]
        for i in reversed(range(len(self.up))):
            skip = skips[i]
            if h.shape[-2:] != skip.shape[-2:]:
                h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")  # [B, c_{i+1}, n_i, n_i]
            h = torch.cat([h, skip], dim=1)  # [B, c_{i+1} + c_i, n_i, n_i]
            for block in self.up[i]:
                h = block(h, emb)  # [B, c_i, n_i, n_i]
        return self.out(F.silu(self.out_norm(h)))  # [B, 1, n, n]
