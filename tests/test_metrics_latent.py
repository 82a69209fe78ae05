"""Active units and the mutual information gap of latent codes."""

import numpy as np
import pytest
import torch

from gentut.metrics.latent import active_units, latent_factor_mutual_information, mutual_information_gap



def _standardised(n, d, seed=0):
    """(n, d) columns with sample mean 0 and unbiased sample variance exactly 1."""
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = x - x.mean(0)
    return x / x.std(0)


def test_active_units_counts_dimensions_whose_mean_varies_more_than_the_threshold():
    stds = torch.tensor([0.0, 0.05, 0.09, 0.11, 0.2, 1.0], dtype=torch.float64)
    means = _standardised(500, 6) * stds + 3.0  # an offset does not matter, only the spread
    count, variances = active_units(means)
    assert torch.allclose(variances.double(), stds**2, atol=1e-6)
    assert count == 3  # variances 0.0121, 0.04 and 1 exceed 0.01
    assert active_units(means, threshold=0.001)[0] == 5
    assert active_units(means.numpy(), threshold=0.5)[0] == 1


def test_active_units_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"means must have shape \(N, latent_dim\) with N >= 2"):
        active_units(torch.zeros(5))
    with pytest.raises(ValueError, match="N >= 2"):
        active_units(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="finite"):
        active_units(torch.tensor([[0.0], [float("nan")]]))
    with pytest.raises(ValueError, match="threshold must be a finite number >= 0"):
        active_units(torch.zeros(3, 2), threshold=-1.0)


def _factors(n=4000, seed=0):
    """Two independent uniform factors with 4 and 6 values, (n, 2) int64."""
    generator = torch.Generator().manual_seed(seed)
    return torch.stack(
        [torch.randint(0, 4, (n,), generator=generator), torch.randint(0, 6, (n,), generator=generator)], dim=1
    )


def test_mutual_information_of_a_copied_balanced_factor_is_its_entropy_log_k():
    factor = torch.arange(4000) % 4  # exactly balanced: H = log 4
    noise = torch.randn(4000, generator=torch.Generator().manual_seed(0))
    codes = torch.stack([factor.float(), noise], dim=1)
    information = latent_factor_mutual_information(codes, factor[:, None])
    assert information.shape == (1, 2)
    assert float(information[0, 0]) == pytest.approx(np.log(4), rel=1e-6)
    assert float(information[0, 1]) < 0.02  # independent noise: the estimator's bias, 19 * 3 / 8000


def test_mig_is_near_one_when_each_factor_has_a_latent_of_its_own():
    factors = _factors()
    noise = torch.randn(len(factors), 2, generator=torch.Generator().manual_seed(1))
    codes = torch.cat([factors.flip(1).float() * 2.0 - 1.0, noise], dim=1)  # order and scale do not matter
    mig, per_factor = mutual_information_gap(codes, factors)
    assert mig > 0.98 and per_factor.shape == (2,) and (per_factor > 0.98).all()


def test_mig_is_near_zero_for_a_code_that_ignores_the_factors():
    factors = _factors()
    codes = torch.randn(len(factors), 5, generator=torch.Generator().manual_seed(2))
    mig, per_factor = mutual_information_gap(codes, factors)
    assert 0 <= mig < 0.02 and (per_factor < 0.02).all()


def test_mig_is_near_zero_for_a_factor_encoded_twice():
    factors = _factors()
    copy = factors[:, :1].float()
    codes = torch.cat([copy, 3.0 * copy, factors[:, 1:].float()], dim=1)  # factor 0 in two latents
    mig, per_factor = mutual_information_gap(codes, factors)
    assert float(per_factor[0]) < 0.02 and float(per_factor[1]) > 0.98
    assert mig == pytest.approx(float(per_factor.mean()), abs=1e-6)


def test_mig_leaves_out_a_factor_that_never_varies_with_a_warning():
    factors = torch.cat([_factors(), torch.zeros(4000, 1, dtype=torch.int64)], dim=1)
    codes = torch.cat([factors[:, :2].float(), torch.randn(4000, 1)], dim=1)
    with pytest.warns(UserWarning, match=r"factor columns \[2\] take a single value"):
        mig, per_factor = mutual_information_gap(codes, factors)
    assert torch.isnan(per_factor[2]) and mig > 0.98
    with pytest.raises(ValueError, match="every factor takes a single value"):
        mutual_information_gap(codes, torch.zeros(4000, 2, dtype=torch.int64))


def test_mig_rejects_bad_inputs():
    codes, factors = torch.randn(10, 3), torch.zeros(10, 2, dtype=torch.int64)
    with pytest.raises(TypeError, match="factors must hold integer indices"):
        mutual_information_gap(codes, factors.float())
    with pytest.raises(ValueError, match="one row per data point, got 10 and 9 rows"):
        mutual_information_gap(codes, factors[:9])
    with pytest.raises(ValueError, match="codes need d >= 2, got d = 1"):
        mutual_information_gap(codes[:, :1], factors)
    with pytest.raises(ValueError, match="bins must be an int >= 2"):
        mutual_information_gap(codes, factors, bins=1)
    with pytest.raises(ValueError, match=r"codes must have shape \(N, latent_dim\)"):
        mutual_information_gap(codes[:, 0], factors)
    with pytest.raises(ValueError, match="codes must be finite"):
        mutual_information_gap(torch.full((10, 3), float("inf")), factors)
