"""ROC AUC for anomaly detection and mean reconstruction error."""
import numpy as np
import pytest
import torch

from gentut.metrics.reconstruction import mean_reconstruction_error, roc_auc, roc_curve_points


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
    with pytest.raises(ValueError, match="must hold at least one image"):
        mean_reconstruction_error(_Halver(), torch.zeros(0, 1, 2, 2))
    with pytest.raises(ValueError, match=r"values in \[0, 1\], got min 0 and max 255; pixels in 0..255: divide by 255"):
        mean_reconstruction_error(_Halver(), torch.tensor([0.0, 255.0]).repeat(2, 1, 2, 1))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        mean_reconstruction_error(_Halver(), torch.zeros(2, 1, 2, 2), batch_size=0)


