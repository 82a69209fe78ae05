"""Reconstruction and anomaly detection: mean squared reconstruction error and ROC analysis.

ROC analysis follows Fawcett (2006), "An introduction to ROC analysis"; the area under the curve
is the probability that a random anomaly scores higher than a random normal example (0.5 is
chance, 1.0 perfect separation).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve
from torch import Tensor, nn

from gentut.data.checks import check_images
from gentut.batched import per_example

__all__ = ["roc_auc", "roc_curve_points", "mean_reconstruction_error"]

ArrayLike = Tensor | np.ndarray | Sequence[float]


def _as_numpy(name: str, values: ArrayLike) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per example), got shape {array.shape}")
    return array


def _check_scores_and_labels(
    scores: ArrayLike, is_anomaly: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    scores_np = _as_numpy("scores", scores).astype(np.float64)
    labels_np = _as_numpy("is_anomaly", is_anomaly)
    if len(scores_np) != len(labels_np):
        raise ValueError(
            f"scores and is_anomaly must have the same length, got {len(scores_np)} and "
            f"{len(labels_np)}"
        )
    if not np.all(np.isfinite(scores_np)):
        raise ValueError("scores must be finite; found NaN or infinity")
    if not np.isin(labels_np, (0, 1)).all():
        raise ValueError(
            f"is_anomaly must hold booleans or 0/1, got values {np.unique(labels_np)[:5].tolist()}"
        )
    labels_np = labels_np.astype(bool)
    if labels_np.all() or not labels_np.any():
        only = "anomalies" if labels_np.all() else "normal examples"
        raise ValueError(
            f"ROC analysis needs both normal and anomalous examples, but is_anomaly marks only "
            f"{only} ({len(labels_np)} examples); include the held-out class in the test set"
        )
    return scores_np, labels_np


def roc_auc(scores: ArrayLike, is_anomaly: ArrayLike) -> float:
    """Area under the ROC curve of `scores` (higher = more anomalous) against true labels.

    Args:
        scores: one anomaly score per example, e.g. `gentut.models.anomaly_scores`.
        is_anomaly: one boolean (or 0/1) per example, True for the held-out class.
    """
    scores_np, labels_np = _check_scores_and_labels(scores, is_anomaly)
    return float(roc_auc_score(labels_np, scores_np))


def roc_curve_points(
    scores: ArrayLike, is_anomaly: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rates, true-positive rates and the score thresholds that give them.

    Feed ``fpr, tpr`` with `roc_auc` to `gentut.plots.plot_roc`.
    """
    scores_np, labels_np = _check_scores_and_labels(scores, is_anomaly)
    fpr, tpr, thresholds = roc_curve(labels_np, scores_np)
    return fpr, tpr, thresholds


def mean_reconstruction_error(model: nn.Module, images: Tensor, *, batch_size: int = 256) -> float:
    """Mean squared error per pixel between `images` and ``model(images)``.

    Per-pixel squared error does not depend on the model's likelihood, so it compares
    autoencoders with different latent sizes or losses on one scale (the bottleneck trade-off).
    """
    images = check_images(images)  # pixels in 0..255 would give an error 65,025 times too large

    def squared_errors(x: Tensor) -> Tensor:
        reconstruction = model(x)
        if reconstruction.shape != x.shape:
            raise ValueError(
                f"model(images) must return reconstructions of shape {tuple(x.shape)}, "
                f"got {tuple(reconstruction.shape)}"
            )
        return ((reconstruction.float() - x.float()) ** 2).flatten(1).sum(dim=1)  # (B,)

    return float(per_example(model, images, squared_errors, batch_size=batch_size).sum()) / images.numel()
