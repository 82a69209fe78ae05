"""Loss terms as small pure functions, each named for its equation.

Every term is a negative log-likelihood (or a divergence) in nats, summed over the pixels or
latent dimensions of one example, because that is the quantity the equations define: the
log-likelihood of an image is the sum of its pixels' log-likelihoods when pixels are modelled as
independent given the code. Averaging over pixels instead would divide the reconstruction term by
784 and silently reweigh it against the KL term of a VAE (Kingma & Welling 2014).

``reduction="none"`` returns one value per example, shape (B,) (anomaly scores need these);
``reduction="mean"`` (default) averages over the batch, giving nats per image.

The functions check shapes (a silent broadcast of (B, 784) against (B, 1, 28, 28) is a classic bug)
but not values, so they never force a host-device synchronisation inside a training step.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "bernoulli_nll",
    "gaussian_nll",
    "squared_error",
    "gaussian_kl_standard_normal",
    "gaussian_log_density",
    "standard_normal_log_density",
]

Reduction = Literal["none", "mean"]


def _check_same_shape(function: str, first: str, a: Tensor, second: str, b: Tensor) -> None:
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(
            f"{function} expects tensors, got {type(a).__name__} and {type(b).__name__}"
        )
    if a.shape != b.shape:
        raise ValueError(
            f"{function}: {first} and {second} must have the same shape, "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.ndim < 1:
        raise ValueError(f"{function}: expected a batch dimension, got a 0-d tensor")


def _reduce(function: str, per_element: Tensor, reduction: str) -> Tensor:
    """Sum over every dimension but the first (one value per example), then reduce the batch."""
    per_example = per_element.flatten(1).sum(dim=1) if per_element.ndim > 1 else per_element
    if reduction == "none":
        return per_example  # (B,)
    if reduction == "mean":
        return per_example.mean()  # ()
    raise ValueError(f"{function}: reduction must be 'none' or 'mean', got {reduction!r}")


def bernoulli_nll(logits: Tensor, x: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Negative log-likelihood of images `x` under independent Bernoulli pixels.

        -log p(x | logits) = -sum_i [ x_i log sigmoid(l_i) + (1 - x_i) log(1 - sigmoid(l_i)) ]

    This is binary cross-entropy summed over pixels. Targets may be grey values in [0, 1]; the
    sum is then a cross-entropy whose minimum is the pixels' entropy, not zero.

    Args:
        logits: decoder output before the sigmoid, (B, ...).
        x: targets in [0, 1], same shape.
    """
    _check_same_shape("bernoulli_nll", "logits", logits, "x", x)
    # The fused form uses log-sigmoid, which stays finite for logits of any size.
    per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return _reduce("bernoulli_nll", per_pixel, reduction)


def gaussian_nll(
    mean: Tensor, x: Tensor, *, sigma: float | Tensor = 1.0, reduction: Reduction = "mean"
) -> Tensor:
    """Negative log-likelihood of `x` under independent Gaussians N(mean, sigma^2) per pixel.

        -log p(x | mean) = sum_i [ (x_i - mean_i)^2 / (2 sigma^2) + 0.5 log(2 pi sigma^2) ]

    With fixed sigma this is squared error scaled by 1 / (2 sigma^2) plus a constant, which is why
    minimising squared error is maximum likelihood under Gaussian noise.

    Args:
        mean: predicted pixel means, (B, ...).
        x: targets, same shape.
        sigma: standard deviation, a positive float or a tensor broadcastable to `x`.
    """
    _check_same_shape("gaussian_nll", "mean", mean, "x", x)
    if isinstance(sigma, Tensor):
        variance = sigma.to(x.dtype) ** 2
        log_normaliser = 0.5 * torch.log(2 * math.pi * variance)
    else:
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0:
            raise ValueError(f"gaussian_nll: sigma must be a positive number, got {sigma!r}")
        variance = float(sigma) ** 2
        log_normaliser = 0.5 * math.log(2 * math.pi * variance)
    per_pixel = (x - mean) ** 2 / (2 * variance) + log_normaliser
    per_pixel = per_pixel.expand_as(x)  # a scalar constant must still count once per pixel
    return _reduce("gaussian_nll", per_pixel, reduction)


def squared_error(recon: Tensor, x: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Squared error summed over pixels: sum_i (recon_i - x_i)^2."""
    _check_same_shape("squared_error", "recon", recon, "x", x)
    return _reduce("squared_error", (recon - x) ** 2, reduction)


def gaussian_kl_standard_normal(
    mean: Tensor, logvar: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    """KL divergence from N(mean, exp(logvar)) (diagonal) to the standard normal N(0, I).

        KL = 0.5 * sum_j [ mean_j^2 + exp(logvar_j) - 1 - logvar_j ]

    The closed form of Kingma & Welling (2014), Appendix B, summed over latent dimensions.

    Args:
        mean: (B, latent_dim) means of the approximate posterior.
        logvar: (B, latent_dim) log-variances, same shape.
    """
    _check_same_shape("gaussian_kl_standard_normal", "mean", mean, "logvar", logvar)
    per_dimension = 0.5 * (mean**2 + logvar.exp() - 1.0 - logvar)
    return _reduce("gaussian_kl_standard_normal", per_dimension, reduction)


# --- log-densities (positive log-likelihoods, for ELBOs and importance weights) ----------------
# A Bernoulli log-likelihood is simply -bernoulli_nll(logits, x); it gets no function of its own.

_LOG_2PI = math.log(2 * math.pi)


def gaussian_log_density(
    x: Tensor, mean: Tensor, logvar: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    """Log-density of `x` under a diagonal Gaussian N(mean, diag(exp(logvar))), constant included.

        log N(x; mean, diag(exp(logvar))) = -0.5 * sum_j [ log(2 pi) + logvar_j
                                                           + (x_j - mean_j)^2 / exp(logvar_j) ]

    The log-density of a VAE's decoder (Gaussian pixels) and of its approximate posterior
    q(z | x) at a sample z (Kingma & Welling 2014), which importance sampling needs.

    Args:
        x: points, (B, ...).
        mean: means, same shape as `x`.
        logvar: log-variances, the same shape or broadcastable to it (a scalar for one shared
            variance).
    """
    _check_same_shape("gaussian_log_density", "x", x, "mean", mean)
    if not isinstance(logvar, Tensor):
        raise TypeError(
            f"gaussian_log_density: logvar must be a tensor, got {type(logvar).__name__}"
        )
    try:
        logvar = logvar.expand_as(x)  # a shared variance must count once per element
    except RuntimeError:
        raise ValueError(
            f"gaussian_log_density: logvar of shape {tuple(logvar.shape)} does not broadcast to "
            f"x of shape {tuple(x.shape)}"
        ) from None
    # Divide by exp(logvar) as a product with exp(-logvar): finite for any logvar the VAE allows.
    per_element = -0.5 * (_LOG_2PI + logvar + (x - mean) ** 2 * torch.exp(-logvar))
    return _reduce("gaussian_log_density", per_element, reduction)


def standard_normal_log_density(z: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Log-density of `z` under the standard normal prior N(0, I), summed over dimensions.

        log N(z; 0, I) = -0.5 * sum_j [ log(2 pi) + z_j^2 ]

    Args:
        z: (B, latent_dim) points.
    """
    if not isinstance(z, Tensor):
        raise TypeError(f"standard_normal_log_density expects a tensor, got {type(z).__name__}")
    if z.ndim < 1:
        raise ValueError(
            "standard_normal_log_density: expected a batch dimension, got a 0-d tensor"
        )
    return _reduce("standard_normal_log_density", -0.5 * (_LOG_2PI + z**2), reduction)
