"""ROC AUC for anomaly detection and mean reconstruction error."""
import numpy as np
import pytest
import torch

from gentut.metrics import mean_reconstruction_error, roc_auc, roc_curve_points


def test_roc_auc_is_one_when_anomalies_all_score_higher():
    scores = torch.tensor([0.1, 0.2, 0.3, 5.0, 6.0])
    is_anomaly = torch.tensor([False, False, False, True, True])
    assert roc_auc(scores, is_anomaly) == 1.0


def test_roc_auc_is_zero_when_the_ranking_is_reversed():
    assert roc_auc([3.0, 2.0, 1.0, 0.0], [0, 0, 1, 1]) == 0.0


def test_roc_auc_is_about_one_half_for_random_scores():
    generator = np.random.default_rng(0)
    scores = generator.normal(size=4000)
    is_anomaly = generator.random(4000) < 0.3
    assert roc_auc(scores, is_anomaly) == pytest.approx(0.5, abs=0.03)


def test_roc_auc_counts_ties_as_one_half():
    assert roc_auc([1.0, 1.0], [0, 1]) == 0.5


@pytest.mark.parametrize("labels, only", [([0, 0, 0], "normal examples"), ([True, True, True], "anomalies")])
def test_roc_auc_rejects_a_single_class(labels, only):
    with pytest.raises(ValueError, match=f"needs both normal and anomalous examples.*only {only}"):
        roc_auc([0.1, 0.2, 0.3], labels)


def test_roc_auc_rejects_bad_inputs():
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        roc_auc([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match="scores must be 1-D"):
        roc_auc(torch.zeros(2, 2), [0, 1])
    with pytest.raises(ValueError, match="booleans or 0/1"):
        roc_auc([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="finite"):
        roc_auc([0.1, float("nan")], [0, 1])


def test_roc_curve_points_run_from_origin_to_corner_and_match_auc():
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    is_anomaly = np.array([0, 0, 1, 1])
    fpr, tpr, thresholds = roc_curve_points(scores, is_anomaly)
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert len(thresholds) == len(fpr)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))  # trapezoid rule
    assert area == pytest.approx(roc_auc(scores, is_anomaly))


class _Halver(torch.nn.Module):
    """Reconstructs every image as half of itself."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x / 2


def test_mean_reconstruction_error_is_per_pixel_mse_over_all_images():
    images = torch.rand(7, 1, 4, 4)
    model = _Halver().train()
    expected = ((images / 2 - images) ** 2).mean().item()
    assert mean_reconstruction_error(model, images, batch_size=3) == pytest.approx(expected, rel=1e-6)
    assert model.training


def test_mean_reconstruction_error_rejects_bad_arguments():
    with pytest.raises(ValueError, match="non-empty batch"):
        mean_reconstruction_error(_Halver(), torch.zeros(0, 1, 2, 2))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        mean_reconstruction_error(_Halver(), torch.zeros(2, 1, 2, 2), batch_size=0)


# --- active units and the mutual information gap ---------------------------------------------

from gentut.metrics import active_units, latent_factor_mutual_information, mutual_information_gap  # noqa: E402


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
