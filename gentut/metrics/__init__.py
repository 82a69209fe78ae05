"""The numbers the book reports, in seven rooms, and one table to print them in.

* `reconstruction`: mean squared reconstruction error, ROC AUC and ROC curves (anomalies);
* `likelihood`: per-image ELBO and the importance-sampled (IWAE) estimate of log p(x);
* `samples`: the book's feature classifier (cached, versioned) and sample metrics in its
  features: Frechet distance, classifier score, precision/recall, density/coverage;
* `latent`: active units and the mutual information gap of latent codes;
* `modes`: mode coverage of 2-D samples on a mixture of Gaussians;
* `artifacts`: the checkerboard energy of images (period-two patterns of transposed convolutions);
* `memorisation`: nearest training neighbours and the data-copying test (Meehan et al. 2020);
* `tables`: `format_table`, the one formatter of every chapter's tables.

Everything public is importable from ``gentut.metrics`` directly.
"""
from gentut.metrics.artifacts import checkerboard_energy
from gentut.metrics.latent import (
    active_units,
    latent_factor_mutual_information,
    mutual_information_gap,
)
from gentut.metrics.likelihood import elbo, importance_sampled_log_likelihood
from gentut.metrics.memorisation import DataCopying, data_copying, mann_whitney_z, nearest_neighbours
from gentut.metrics.modes import ModeCoverage, mode_counts, mode_coverage
from gentut.metrics.reconstruction import (
    mean_reconstruction_error,
    roc_auc,
    roc_curve_points,
)
from gentut.metrics.samples import (
    class_probabilities,
    classifier_score,
    classify,
    density_coverage,
    evaluate_generator,
    extract_features,
    format_metrics,
    format_path,
    frechet_distance,
    frechet_distance_infinity,
    load_or_train_classifier,
    precision_recall,
)
from gentut.metrics.tables import format_table

__all__ = [
    "checkerboard_energy",
    "active_units",
    "latent_factor_mutual_information",
    "mutual_information_gap",
    "elbo",
    "importance_sampled_log_likelihood",
    "DataCopying",
    "data_copying",
    "mann_whitney_z",
    "nearest_neighbours",
    "ModeCoverage",
    "mode_counts",
    "mode_coverage",
    "mean_reconstruction_error",
    "roc_auc",
    "roc_curve_points",
    "classifier_score",
    "classify",
    "density_coverage",
    "evaluate_generator",
    "extract_features",
    "class_probabilities",
    "format_metrics",
    "format_path",
    "frechet_distance",
    "frechet_distance_infinity",
    "load_or_train_classifier",
    "precision_recall",
    "format_table",
]
