"""The data-copying test: U against brute-force pair counts, z about N(0, 1) under the null, and
C_T that flags a copying generator, passes a fresh sampler and flags an underfitting one."""
import numpy as np
import pytest
import torch

from gentut.metrics.memorisation import data_copying, mann_whitney_z, nearest_neighbours


def _mixture(n, seed, dim=8, modes=5):
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(modes, dim, generator=torch.Generator().manual_seed(99)) * 4
    which = torch.randint(modes, (n,), generator=generator)
    return centres[which] + torch.randn(n, dim, generator=generator)


def test_nearest_neighbours_match_a_brute_force_search():
    queries, references = torch.randn(50, 6), torch.randn(300, 6)
    distances, indices = nearest_neighbours(queries, references)
    brute = ((queries[:, None] - references[None]) ** 2).sum(-1).sqrt()
    assert torch.equal(indices, brute.argmin(dim=1))
    assert torch.allclose(distances, brute.min(dim=1).values, atol=1e-4)
    images = references[:7].view(7, 1, 2, 3)  # images are flattened
    assert torch.equal(nearest_neighbours(images, references)[1], torch.arange(7))


def test_u_counts_pairs_with_ties_as_one_half():
    rng = np.random.default_rng(0)
    g, h = rng.integers(0, 5, 40).astype(float), rng.integers(0, 5, 60).astype(float)  # many ties
    u = (g[:, None] > h[None]).sum() + 0.5 * (g[:, None] == h[None]).sum()
    m, n = len(g), len(h)
    expected = (u - m * n / 2) / np.sqrt(m * n * (m + n + 1) / 12)
    assert mann_whitney_z(g, h) == pytest.approx(expected)
    assert mann_whitney_z(np.zeros(5), np.ones(5)) < 0 < mann_whitney_z(np.ones(5), np.zeros(5))


def test_z_is_standard_normal_when_both_sets_come_from_one_distribution():
    rng = np.random.default_rng(1)
    z = np.array([mann_whitney_z(rng.exponential(size=30), rng.exponential(size=50)) for _ in range(2000)])
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1) < 0.1


def test_copying_generator_is_flagged_fresh_sampler_passes_underfitting_one_is_positive():
    train, held_out = _mixture(2000, seed=0), _mixture(1000, seed=1)
    noise = torch.randn(1000, 8, generator=torch.Generator().manual_seed(2))
    copies = train[:1000] + 0.05 * noise          # training points, barely perturbed
    fresh = _mixture(1000, seed=3)                  # the data distribution itself
    blurred = _mixture(1000, seed=4) + 1.0 * noise  # further from the data than real points
    assert data_copying(train, held_out, copies, cells=5).statistic < -10
    assert abs(data_copying(train, held_out, fresh, cells=5).statistic) < 3
    assert data_copying(train, held_out, blurred, cells=5).statistic > 5


def test_cells_without_enough_generated_points_are_left_out():
    train, held_out = _mixture(2000, seed=0), _mixture(1000, seed=1)
    one_mode = train[:1][None].expand(200, 1, 8)[:, 0] + 0.1 * torch.randn(200, 8)  # all in one cell
    result = data_copying(train, held_out, one_mode, cells=5)
    assert result.kept.sum() == 1 and np.isnan(result.cell_z[~result.kept]).all()
    assert result.statistic == pytest.approx(result.cell_z[result.kept][0])
    assert "over 1 of 5 cells" in str(result)


def test_bad_inputs_get_clear_errors():
    train, held_out = _mixture(200, seed=0), _mixture(100, seed=1)
    with pytest.raises(ValueError, match="points of one size"):
        data_copying(train, held_out, torch.randn(100, 3))
    with pytest.raises(ValueError, match="cells must be an int between 1 and the 200 training points, got 0"):
        data_copying(train, held_out, held_out, cells=0)
    with pytest.raises(ValueError, match="hold no held-out point"):
        data_copying(train, held_out[:3], held_out, cells=20)
    with pytest.raises(ValueError, match="no cell holds 20 generated points"):
        data_copying(train, held_out, held_out[:5])
    with pytest.raises(ValueError, match="NaN or infinite"):
        nearest_neighbours(torch.full((2, 8), float("nan")), train)
    with pytest.raises(TypeError, match="must be a tensor or array"):
        nearest_neighbours([[0.0]], train)
    with pytest.raises(ValueError, match="queries have 3 numbers per point but references have 8"):
        nearest_neighbours(torch.zeros(2, 3), train)
