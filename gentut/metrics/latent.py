"""Latent codes: how many dimensions a model uses (active units) and how well they separate
known factors of variation (the mutual information gap)."""
from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.metrics import mutual_info_score
from torch import Tensor

__all__ = ["active_units", "latent_factor_mutual_information", "mutual_information_gap"]


def _as_matrix(name: str, values: Tensor | np.ndarray, what: str) -> np.ndarray:
    """`values` as a 2-D numpy array (N, columns), or an error naming what came."""
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    if not isinstance(values, np.ndarray):
        raise TypeError(f"{name} must be a tensor or numpy array (N, {what}), got {type(values).__name__}")
    if values.ndim != 2 or values.shape[0] < 2 or values.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N, {what}) with N >= 2, got {values.shape}")
    return values


def active_units(means: Tensor | np.ndarray, *, threshold: float = 0.01) -> tuple[int, Tensor]:
    """How many latent dimensions the model uses, after Burda, Grosse and Salakhutdinov (2016).

    A dimension u is active when its posterior mean moves with the input:

        A_u = Cov_x( E_{q(z|x)}[z_u] ) > threshold     (threshold 0.01 in the paper)

    A collapsed dimension has q(z_u | x) = p(z_u) for every x, so its mean is constant.

    Args:
        means: (N, d) posterior means E_q[z | x], one row per data point (e.g. the encoder's mu).
        threshold: variance above which a dimension counts as active.

    Returns:
        (count, variances): the number of active dimensions, and the (d,) variance over the
        data of each dimension's mean (the unbiased sample variance, dividing by N - 1).
    """
    array = _as_matrix("means", means, "latent_dim").astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError("means must be finite; found NaN or infinity")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold < float("inf"):
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold!r}")
    variances = torch.from_numpy(array.var(axis=0, ddof=1)).float()  # (d,)
    return int((variances > threshold).sum()), variances


def _discretise(codes: np.ndarray, bins: int) -> np.ndarray:
    """Each code column cut into `bins` equal-width bins over its own range: (N, d) bin ids."""
    columns = []
    for column in codes.T:
        edges = np.histogram_bin_edges(column, bins=bins)
        columns.append(np.digitize(column, edges[:-1]))  # ids 1..bins; the maximum joins the last bin
    return np.stack(columns, axis=1)


def _check_codes_and_factors(codes, factors, bins: int) -> tuple[np.ndarray, np.ndarray]:
    codes_np = _as_matrix("codes", codes, "latent_dim").astype(np.float64)
    factors_np = _as_matrix("factors", factors, "num_factors")
    if not np.issubdtype(factors_np.dtype, np.integer):
        raise TypeError(f"factors must hold integer indices (one column per factor), got dtype {factors_np.dtype}")
    if len(codes_np) != len(factors_np):
        raise ValueError(
            f"codes and factors must have one row per data point, got {len(codes_np)} and {len(factors_np)} rows"
        )
    if not np.all(np.isfinite(codes_np)):
        raise ValueError("codes must be finite; found NaN or infinity")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins must be an int >= 2, got {bins!r}")
    return codes_np, factors_np


def latent_factor_mutual_information(
    codes: Tensor | np.ndarray, factors: Tensor | np.ndarray, *, bins: int = 20
) -> Tensor:
    """I(z_j; v_k) in nats for every factor k and latent dimension j: a (K, d) tensor.

    Each code dimension z_j is discretised into `bins` equal-width bins over its range, and the
    mutual information of two discrete variables is estimated from their joint histogram,

        I(z_j; v_k) = sum_{a, b} p(a, b) log( p(a, b) / (p(a) p(b)) ),

    with `sklearn.metrics.mutual_info_score`. This is the estimator of Locatello et al. (2019,
    "Challenging common assumptions in the unsupervised learning of disentangled
    representations"); it is biased upwards by about (bins - 1)(values - 1) / (2N) nats, so use
    a few thousand points.

    Args:
        codes: (N, d) latent codes, usually the encoder's means.
        factors: (N, K) integer factor indices, e.g. `FactorData.factors`.
        bins: number of bins per code dimension.
    """
    codes_np, factors_np = _check_codes_and_factors(codes, factors, bins)
    return torch.from_numpy(_information_matrix(codes_np, factors_np, bins)).float()


def _information_matrix(codes: np.ndarray, factors: np.ndarray, bins: int) -> np.ndarray:
    binned = _discretise(codes, bins)  # (N, d)
    return np.array([[mutual_info_score(factor, latent) for latent in binned.T] for factor in factors.T])  # (K, d)


def mutual_information_gap(
    codes: Tensor | np.ndarray, factors: Tensor | np.ndarray, *, bins: int = 20
) -> tuple[float, Tensor]:
    """The mutual information gap (MIG) of Chen, Li, Grosse and Duvenaud (2018, "Isolating
    sources of disentanglement in variational autoencoders").

    For each factor v_k, take the two latent dimensions that know most about it; the gap between
    them, as a fraction of the factor's entropy, is high when exactly one dimension encodes it:

        MIG_k = ( I(z_{j_1}; v_k) - I(z_{j_2}; v_k) ) / H(v_k),    MIG = mean_k MIG_k

    where j_1 and j_2 are the dimensions with the largest and second largest I(z_j; v_k)
    (estimated by `latent_factor_mutual_information`, histograms with `bins` bins), and
    H(v_k) is the entropy of the factor's empirical distribution. MIG is in [0, 1]: near 1 when
    each factor lives in one dimension of its own, near 0 when a factor is spread over several
    dimensions or not encoded at all. Chen et al. estimate I(z_j; v_k) from the whole posterior
    q(z|x); the histogram of the codes used here is the common cheaper variant.

    A factor that takes a single value in the data (H(v_k) = 0) has no gap to measure: its
    entry is NaN, it is left out of the mean, and a warning names it.

    Args:
        codes: (N, d) latent codes with d >= 2, usually the encoder's means.
        factors: (N, K) integer factor indices, e.g. `FactorData.factors`.
        bins: number of equal-width bins per code dimension.

    Returns:
        (mig, per_factor): the mean gap, and the (K,) gap of each factor.
    """
    codes_np, factors_np = _check_codes_and_factors(codes, factors, bins)
    if codes_np.shape[1] < 2:
        raise ValueError(
            "MIG compares the two most informative latent dimensions, so codes need d >= 2, "
            f"got d = {codes_np.shape[1]}"
        )
    information = _information_matrix(codes_np, factors_np, bins)  # (K, d), nats
    entropy = np.array([mutual_info_score(factor, factor) for factor in factors_np.T])  # (K,): H(v) = I(v; v)
    constant = entropy <= 0
    if constant.all():
        raise ValueError(
            f"every factor takes a single value in these {len(factors_np)} rows, so MIG is undefined; "
            "use data in which the factors vary"
        )
    if constant.any():
        warnings.warn(
            f"factor columns {np.flatnonzero(constant).tolist()} take a single value in the data; "
            "they are left out of MIG (per-factor gap NaN)",
            stacklevel=2,
        )
    top_two = -np.sort(-information, axis=1)[:, :2]  # (K, 2): largest, second largest
    gap = np.full(len(entropy), np.nan)
    gap[~constant] = (top_two[~constant, 0] - top_two[~constant, 1]) / entropy[~constant]
    return float(np.mean(gap[~constant])), torch.from_numpy(gap).float()
