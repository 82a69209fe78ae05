import math

import pytest
import torch

from gentut.data.toy2d import grid_of_gaussians, ring_of_gaussians, swiss_roll, two_moons
from gentut.metrics.modes import mode_counts, mode_coverage


def test_ring_has_standard_centres_and_spread():
    data = ring_of_gaussians(20_000, seed=0)
    assert data.points.shape == (20_000, 2) and data.points.dtype == torch.float32
    assert data.centres.shape == (8, 2) and data.std == 0.02
    assert torch.allclose(data.centres.norm(dim=1), torch.full((8,), 2.0))
    assert torch.allclose(data.centres[2], torch.tensor([0.0, 2.0]), atol=1e-6)  # 90 degrees
    residual = data.points - data.centres[data.labels]
    assert abs(float(residual.std()) - 0.02) < 0.001
    assert torch.bincount(data.labels, minlength=8).min() > 2000


def test_grid_is_5x5_from_minus_4_to_4():
    data = grid_of_gaussians(1000, seed=0)
    assert data.centres.shape == (25, 2) and data.std == 0.05
    assert sorted(set(data.centres[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


def test_same_seed_same_points_other_seed_differs():
    a, b = ring_of_gaussians(100, seed=1), ring_of_gaussians(100, seed=1)
    assert torch.equal(a.points, b.points)
    assert not torch.equal(a.points, ring_of_gaussians(100, seed=2).points)


def test_moons_and_roll_shapes():
    moons = two_moons(500, noise=0.0, seed=0)
    assert moons.points.shape == (500, 2) and set(moons.labels.tolist()) == {0, 1}
    upper = moons.points[moons.labels == 0]
    assert torch.allclose(upper.norm(dim=1), torch.ones(len(upper)), atol=1e-5)
    roll = swiss_roll(500, noise=0.0, seed=0)
    assert roll.points.shape == (500, 2) and float(roll.points.abs().max()) <= 1.0 + 1e-6


def test_real_data_covers_all_modes_with_high_quality():
    data = grid_of_gaussians(2500, seed=0)
    covered, quality = mode_coverage(data.points, data.centres, data.std)
    assert covered == 25
    # within 3 std in 2-D: P(chi2_2 < 9) = 1 - exp(-4.5)
    assert abs(quality - (1 - math.exp(-4.5))) < 0.01


def test_collapsed_samples_cover_one_mode():
    data = ring_of_gaussians(10, seed=0)
    samples = data.centres[3].repeat(100, 1)
    assert tuple(mode_coverage(samples, data.centres, data.std)) == (1, 1.0)


def test_far_samples_are_low_quality_and_min_count_applies():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    samples = torch.tensor([[0.0, 0.05], [10.0, 0.0], [10.1, 0.0], [5.0, 5.0]])
    counts = mode_counts(samples, centres, std=0.1)
    assert counts.tolist() == [1, 2]  # (10.1, 0) is 1 std from its mode; (5, 5) is near none
    assert mode_coverage(samples, centres, 0.1) == (2, 0.75)
    assert mode_coverage(samples, centres, 0.1, min_count=2) == (1, 0.75)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="positive int"):
        ring_of_gaussians(0)
    with pytest.raises(ValueError, match="std must be a positive number"):
        grid_of_gaussians(10, std=0.0)
    with pytest.raises(ValueError, match=r"samples must be a tensor \(n, 2\)"):
        mode_coverage(torch.zeros(5, 3), torch.zeros(2, 2), 1.0)
