"""Two Monte Carlo estimators of the gradient of an expectation under a Gaussian.

For q_theta(z) = N(z; mean, std^2) with theta = (mean, log_std) (elementwise for a vector z), both
estimate

    d/d theta  E_{z ~ q_theta}[ f(z) ].

Score function (likelihood ratio, REINFORCE; Williams 1992): move the derivative onto log q,

    d/d theta E[f(z)] = E[ f(z) * d/d theta log q_theta(z) ],
    d log q / d mean    = (z - mean) / std^2,
    d log q / d log_std = (z - mean)^2 / std^2 - 1.

It needs only values of f, but its variance grows with the size of f.

Reparameterisation (Kingma & Welling 2013; Rezende et al. 2014): write z = mean + std * eps,
eps ~ N(0, 1), and differentiate through f,

    d/d theta E[f(z)] = E[ d/d theta f(mean + std * eps) ],
    d f / d mean = f'(z),   d f / d log_std = f'(z) * std * eps.

It needs f to be differentiable and usually has far lower variance: this is why a VAE samples z
the way it does.

Both functions return one gradient estimate per sample, so a notebook can plot their spread and
compare variances; the mean over samples is the usual estimate.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

__all__ = ["reparameterization_gradient", "score_function_gradient"]


def _parameters(mean: float | Tensor, log_std: float | Tensor) -> tuple[Tensor, Tensor]:
    """Detached float tensors of one shape P: () for a scalar Gaussian, (D,) for a vector one."""
    if not (isinstance(mean, Tensor) and mean.is_floating_point()):
        mean = torch.as_tensor(mean, dtype=torch.get_default_dtype())
    mean = mean.detach()
    log_std = torch.as_tensor(log_std, dtype=mean.dtype).detach()
    if mean.shape != log_std.shape:
        raise ValueError(
            f"mean and log_std must have the same shape, got {tuple(mean.shape)} and "
            f"{tuple(log_std.shape)}"
        )
    if mean.ndim > 1:
        raise ValueError(f"mean must be a scalar or a vector (D,), got shape {tuple(mean.shape)}")
    return mean, log_std


def _noise(samples: int, like: Tensor, generator: torch.Generator | None) -> Tensor:
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive int, got {samples!r}")
    return torch.randn((samples, *like.shape), generator=generator, dtype=like.dtype)  # (S, *P)


def _values(f: Callable[[Tensor], Tensor], z: Tensor) -> Tensor:
    values = f(z)
    if not isinstance(values, Tensor) or values.shape != z.shape[:1]:
        got = tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__
        raise ValueError(
            f"f must map a batch of samples z of shape {tuple(z.shape)} to one value per sample, "
            f"shape ({len(z)},), got {got}"
        )
    return values


def score_function_gradient(
    f: Callable[[Tensor], Tensor],
    mean: float | Tensor,
    log_std: float | Tensor,
    samples: int,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Per-sample score-function estimates of d E[f(z)] / d(mean, log_std) (Williams 1992).

    Args:
        f: maps samples (S, *P) to values (S,), one per sample.
        mean, log_std: the Gaussian's parameters, scalars or vectors of shape P = (D,).
        samples: number of samples S.
        generator: source of the noise, for reproducible estimates.

    Returns:
        (gradients with respect to mean, gradients with respect to log_std), each (S, *P).
    """
    mean, log_std = _parameters(mean, log_std)
    eps = _noise(samples, mean, generator)  # (S, *P)
    std = log_std.exp()
    z = mean + std * eps  # (S, *P), a plain sample: no gradient flows through it
    with torch.no_grad():
        values = _values(f, z)  # (S,)
    values = values.reshape(-1, *([1] * mean.ndim))  # (S, 1...) to broadcast over P
    # Scores of the Gaussian, written with eps = (z - mean) / std:
    score_mean = eps / std  # (z - mean) / std^2
    score_log_std = eps**2 - 1  # (z - mean)^2 / std^2 - 1
    # Estimates are data, not part of a graph: detach so callers can .item() them freely.
    return (values * score_mean).detach(), (values * score_log_std).detach()


def reparameterization_gradient(
    f: Callable[[Tensor], Tensor],
    mean: float | Tensor,
    log_std: float | Tensor,
    samples: int,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Per-sample reparameterisation estimates of d E[f(z)] / d(mean, log_std).

    f must be differentiable (autograd computes d f(mean + std * eps) / d theta) and act on each
    sample separately, so the gradient of the summed values gives each sample's own gradient.

    Args and returns as for `score_function_gradient`.
    """
    mean, log_std = _parameters(mean, log_std)
    eps = _noise(samples, mean, generator)  # (S, *P)
    # One copy of the parameters per sample, so autograd returns per-sample gradients.
    means = mean.expand_as(eps).clone().requires_grad_(True)  # (S, *P)
    log_stds = log_std.expand_as(eps).clone().requires_grad_(True)  # (S, *P)
    with torch.enable_grad():
        z = means + log_stds.exp() * eps  # gradients flow through mean and std, not eps
        values = _values(f, z)  # (S,)
        grad_mean, grad_log_std = torch.autograd.grad(values.sum(), (means, log_stds))
    return grad_mean.detach(), grad_log_std.detach()
