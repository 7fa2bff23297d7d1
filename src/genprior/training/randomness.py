"""Counter-based randomness: every random draw of training is a function of the seed and a counter.

A resumed run therefore replays exactly what an uninterrupted run would have done, and
the random state needs no file:

* batch order: data batch ``k`` is a slice of epoch ``k // (N // batch_size)``'s
  permutation, drawn from a generator seeded with ``mix_seed(seed, 0xBA7C4, epoch)``;
* noise of step ``s`` on rank ``r`` (latent codes, VAE sampling, penalty interpolation,
  dropout): the global torch generators are seeded with ``mix_seed(seed, s, r)``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def mix_seed(*values: int) -> int:
    """A 63-bit seed from integers (splitmix64 chain): well-spread even for nearby inputs."""
    mask = (1 << 64) - 1
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (int(v) & mask)) & mask
        h = (h + 0x9E3779B97F4A7C15) & mask
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & mask
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & mask
        h ^= h >> 31
    return h >> 1


class BatchOrder:
    """Index batches without replacement; batch ``k`` depends only on ``(seed, k)``."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.per_epoch = n // batch_size
        self._epoch, self._perm = -1, None

    def batch(self, k: int) -> Tensor:
        epoch, pos = divmod(k, self.per_epoch)
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(mix_seed(self.seed, 0xBA7C4, epoch))
            self._epoch, self._perm = epoch, torch.randperm(self.n, generator=gen)
        return self._perm[pos * self.batch_size : (pos + 1) * self.batch_size]


__all__ = ["BatchOrder", "mix_seed"]
