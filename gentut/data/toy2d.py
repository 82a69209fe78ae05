"""Two-dimensional toy distributions for the GAN chapters.

The mixtures follow the mode-collapse benchmarks of the GAN literature: eight Gaussians on a
ring of radius 2 with standard deviation 0.02 (Metz et al., "Unrolled GANs", 2017; Srivastava et
al., "VEEGAN", 2017) and a 5x5 grid of Gaussians at {-4, -2, 0, 2, 4}^2 with standard deviation
0.05 (VEEGAN; Lin et al., "PacGAN", 2018). The scores are theirs too: a sample is of high quality
if it lies within three standard deviations of its nearest mode, and a mode is covered if it has
such samples (`gentut.metrics.modes`).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from gentut.validation import positive_int, positive_number

__all__ = [
    "ToyData",
    "ring_of_gaussians",
    "grid_of_gaussians",
    "two_moons",
    "swiss_roll",
]


class ToyData(NamedTuple):
    """Points (n, 2) float32; for mixtures also each point's mode (n,) int64, the centres
    (modes, 2) and the per-coordinate standard deviation of every mode."""

    points: Tensor
    labels: Tensor | None = None
    centres: Tensor | None = None
    std: float | None = None


def _mixture(n: int, centres: Tensor, std: float, seed: int) -> ToyData:
    """n points from an equal-weight mixture of isotropic Gaussians at `centres`."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, len(centres), (n,), generator=generator)
    noise = std * torch.randn(n, 2, generator=generator)
    return ToyData((centres[labels] + noise).float(), labels, centres.float(), float(std))


def ring_of_gaussians(n: int, *, modes: int = 8, radius: float = 2.0, std: float = 0.02, seed: int = 0) -> ToyData:
    """`modes` Gaussians evenly spaced on a circle (the Unrolled-GAN / VEEGAN ring)."""
    positive_int("n", n)
    if isinstance(modes, bool) or not isinstance(modes, int) or modes < 1:
        raise ValueError(f"modes must be a positive int, got {modes!r}")
    positive_number("radius", radius)
    positive_number("std", std)
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    centres = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)  # (modes, 2)
    return _mixture(n, centres, std, seed)


def grid_of_gaussians(n: int, *, side: int = 5, spacing: float = 2.0, std: float = 0.05, seed: int = 0) -> ToyData:
    """side x side Gaussians on a square grid centred at 0 (5x5 at -4..4: the PacGAN / VEEGAN grid)."""
    positive_int("n", n)
    if isinstance(side, bool) or not isinstance(side, int) or side < 1:
        raise ValueError(f"side must be a positive int, got {side!r}")
    positive_number("spacing", spacing)
    positive_number("std", std)
    ticks = spacing * (torch.arange(side, dtype=torch.float64) - (side - 1) / 2)
    xs, ys = torch.meshgrid(ticks, ticks, indexing="ij")
    centres = torch.stack([xs.flatten(), ys.flatten()], dim=1)  # (side * side, 2)
    return _mixture(n, centres, std, seed)


def two_moons(n: int, *, noise: float = 0.05, seed: int = 0) -> ToyData:
    """Two interleaved half circles (as scikit-learn's make_moons); labels say which moon."""
    positive_int("n", n)
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=generator)
    t = math.pi * torch.rand(n, generator=generator)
    upper = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)
    points = torch.where(labels[:, None] == 0, upper, lower) + noise * torch.randn(n, 2, generator=generator)
    return ToyData(points.float(), labels, None, None)


def swiss_roll(n: int, *, noise: float = 0.05, seed: int = 0) -> ToyData:
    """A 2-D spiral, t in [1.5 pi, 4.5 pi], scaled into about [-1, 1]^2 (the diffusion toy)."""
    positive_int("n", n)
    generator = torch.Generator().manual_seed(seed)
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
    points = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / (4.5 * math.pi)
    points = points + noise * torch.randn(n, 2, generator=generator)
    return ToyData(points.float(), None, None, None)
