"""Mode coverage of samples on a mixture of Gaussians (the 2-D laboratory's scores).

The scores of the mode-collapse benchmarks (Metz et al. 2017; Srivastava et al. 2017; Lin et al.
2018): a sample is of high quality if it lies within three standard deviations of its nearest
mode, and a mode is covered if it has such samples.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from gentut.validation import positive_number

__all__ = ["ModeCoverage", "mode_counts", "mode_coverage"]


class ModeCoverage(NamedTuple):
    modes_covered: int
    high_quality_share: float


def mode_counts(samples: Tensor, centres: Tensor, std: float, *, threshold_stds: float = 3.0) -> Tensor:
    """Per mode, how many samples lie within `threshold_stds` standard deviations of it, each
    sample counted for its nearest mode only. Returns (modes,) int64."""
    if not isinstance(samples, Tensor) or samples.ndim != 2 or samples.shape[1] != centres.shape[1]:
        got = tuple(samples.shape) if isinstance(samples, Tensor) else type(samples).__name__
        raise ValueError(f"samples must be a tensor (n, {centres.shape[1]}), got {got}")
    positive_number("std", std)
    samples = samples.detach().to("cpu", torch.float64)
    distances = torch.cdist(samples, centres.to(torch.float64))  # (n, modes)
    nearest_distance, nearest = distances.min(dim=1)
    good = nearest_distance < threshold_stds * std
    return torch.bincount(nearest[good], minlength=len(centres))


def mode_coverage(
    samples: Tensor,
    centres: Tensor,
    std: float,
    *,
    threshold_stds: float = 3.0,
    min_count: int = 1,
) -> ModeCoverage:
    """(modes covered, share of high-quality samples) as in the Unrolled-GAN, VEEGAN and PacGAN
    evaluations.

    A sample is of high quality if it lies within `threshold_stds` standard deviations of its
    nearest mode; a mode is covered if at least `min_count` high-quality samples are nearest to
    it (PacGAN's code uses 1; raise it to ignore a few stray points).
    """
    if len(samples) == 0:
        raise ValueError("samples must hold at least one point, got none")
    counts = mode_counts(samples, centres, std, threshold_stds=threshold_stds)
    return ModeCoverage(int((counts >= min_count).sum()), float(counts.sum()) / len(samples))
