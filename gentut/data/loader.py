"""In-memory batching for data sets that fit in memory (all of this book's).

A worker-process DataLoader costs more than it saves for 28x28 images: indexing one tensor is
faster than collating thousands of small ones. The order of every epoch is a pure function of
(seed, epoch), so a run resumed from a checkpoint at step k sees exactly the batches an
uninterrupted run would have seen.
"""
from __future__ import annotations

import math
from typing import Iterator, NamedTuple

import torch
from torch import Tensor

from gentut.validation import flag, positive_int
from gentut.validation import seed as check_seed

__all__ = ["Batch", "InMemoryLoader"]


class Batch(NamedTuple):
    """One batch: inputs ``x`` and, for labelled data, integer labels ``y`` (else None)."""

    x: Tensor
    y: Tensor | None = None

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Batch":
        y = None if self.y is None else self.y.to(device, non_blocking=non_blocking)
        return Batch(self.x.to(device, non_blocking=non_blocking), y)


class InMemoryLoader:
    """Batches of ``x`` (and ``y``) in a reproducible shuffled order.

    Args:
        x: inputs, first dimension indexes examples.
        y: optional labels, one per example.
        batch_size: examples per batch.
        shuffle: draw a new permutation each epoch (from ``seed`` and the epoch number).
        drop_last: skip a final batch smaller than ``batch_size`` (keeps batch statistics steady).
        seed: seed of the per-epoch permutations.
        device: if given, the whole data set is moved there once, so batches need no copies.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor | None = None,
        *,
        batch_size: int = 128,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        device: torch.device | str | None = None,
    ) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim < 1 or len(x) == 0:
            raise ValueError(f"x must hold at least one example, got shape {tuple(x.shape)}")
        if y is not None:
            if not isinstance(y, Tensor):
                raise TypeError(f"y must be a torch.Tensor or None, got {type(y).__name__}")
            if len(y) != len(x):
                raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
        positive_int("batch_size", batch_size)  # True is an int in Python, but not a batch size
        check_seed("seed", seed)  # here, not at the first batch
        flag("shuffle", shuffle)
        flag("drop_last", drop_last)
        if drop_last and batch_size > len(x):
            raise ValueError(
                f"drop_last=True with batch_size={batch_size} > {len(x)} examples leaves no batch"
            )
        if device is not None:
            x = x.to(device)
            y = None if y is None else y.to(device)
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def order(self, epoch: int) -> Tensor:
        """The permutation of example indices used in `epoch`."""
        n = len(self.x)
        if not self.shuffle:
            return torch.arange(n)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(n, generator=generator)

    def epoch(self, epoch: int = 0, start: int = 0) -> Iterator[Batch]:
        """Yield the batches of `epoch`, beginning at batch number `start` (for resuming)."""
        index = self.order(epoch).to(self.x.device)
        for b in range(start, len(self)):
            idx = index[b * self.batch_size : (b + 1) * self.batch_size]
            yield Batch(self.x[idx], None if self.y is None else self.y[idx])

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)
