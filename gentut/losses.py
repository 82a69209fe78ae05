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
from typing import Callable, Literal

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


# --- GAN losses (on discriminator logits or critic scores) -------------------------------------
# A GAN's losses are expectations over the batch, so these return batch means: there is no
# per-example use for them. Discriminator outputs are LOGITS l with D(x) = sigmoid(l); writing
# log D = -softplus(-l) and log(1 - D) = -softplus(l) keeps every term finite for logits of any
# size, where log(sigmoid(l)) would round to log(0) = -inf once sigmoid(l) rounds to 0.

__all__ += [
    "discriminator_loss",
    "generator_loss_minimax",
    "generator_loss_non_saturating",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "gradient_penalty",
]


def _check_logits(function: str, name: str, logits: Tensor) -> Tensor:
    """Logits or scores of shape (B,) or (B, 1) -> (B,) (no value checks: no host sync)."""
    if not isinstance(logits, Tensor):
        raise TypeError(f"{function}: {name} must be a tensor, got {type(logits).__name__}")
    if logits.ndim == 2 and logits.shape[1] == 1:
        logits = logits[:, 0]
    if logits.ndim != 1 or len(logits) == 0:
        raise ValueError(
            f"{function}: {name} must have shape (B,) or (B, 1), one per example, "
            f"got {tuple(logits.shape)}"
        )
    return logits


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The discriminator's loss: minus the GAN value function (Goodfellow et al. 2014, Eq. 1).

        loss_D = -( E_x[ log D(x) ] + E_z[ log(1 - D(G(z))) ] )
               = mean softplus(-real_logits) + mean softplus(fake_logits)

    Binary cross-entropy with label 1 for real and 0 for fake, each half averaged over its own
    batch and the two halves added. Both logits 0 (D(x) = 1/2 everywhere) give log 4, the loss
    at the equilibrium p_model = p_data.

    Args:
        real_logits: discriminator logits of data, (B,) or (B, 1).
        fake_logits: discriminator logits of generated samples, (B',) or (B', 1).
    """
    real_logits = _check_logits("discriminator_loss", "real_logits", real_logits)
    fake_logits = _check_logits("discriminator_loss", "fake_logits", fake_logits)
    # -log sigmoid(l) = softplus(-l);  -log(1 - sigmoid(l)) = softplus(l)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss_minimax(fake_logits: Tensor) -> Tensor:
    """The generator's side of the original minimax game, to be MINIMISED by G (Goodfellow
    et al. 2014, Eq. 1):

        loss_G = E_z[ log(1 - D(G(z))) ] = -mean softplus(fake_logits)

    It saturates: d loss_G / d l = -sigmoid(l), which vanishes when D confidently rejects the
    fakes (l << 0), exactly the situation early in training. Kept to show why the
    non-saturating loss is used instead.
    """
    fake_logits = _check_logits("generator_loss_minimax", "fake_logits", fake_logits)
    return -F.softplus(fake_logits).mean()


def generator_loss_non_saturating(fake_logits: Tensor) -> Tensor:
    """The non-saturating generator loss (Goodfellow et al. 2014, Section 3):

        loss_G = -E_z[ log D(G(z)) ] = mean softplus(-fake_logits)

    Same fixed point as the minimax loss, but d loss_G / d l = -(1 - sigmoid(l)), close to -1
    when D confidently rejects the fakes, so G gets a strong gradient when it needs one.
    """
    fake_logits = _check_logits("generator_loss_non_saturating", "fake_logits", fake_logits)
    return F.softplus(-fake_logits).mean()


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The WGAN critic's loss (Arjovsky, Chintala & Bottou 2017, Eq. 3 and Algorithm 1):

        loss_C = E_z[ C(G(z)) ] - E_x[ C(x) ]

    Minimising it maximises E C(x) - E C(G(z)), which over 1-Lipschitz critics C is the
    Wasserstein-1 distance (Kantorovich-Rubinstein duality). Scores are unbounded reals, not
    logits. The Lipschitz constraint comes from elsewhere: `gradient_penalty` or spectral norm.
    """
    real_scores = _check_logits("wasserstein_critic_loss", "real_scores", real_scores)
    fake_scores = _check_logits("wasserstein_critic_loss", "fake_scores", fake_scores)
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    """The WGAN generator's loss (Arjovsky et al. 2017, Algorithm 1): loss_G = -E_z[ C(G(z)) ]."""
    fake_scores = _check_logits("wasserstein_generator_loss", "fake_scores", fake_scores)
    return -fake_scores.mean()


def hinge_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The hinge loss of the discriminator (Lim & Ye 2017; Miyato et al. 2018, Eq. 16):

        loss_D = E_x[ max(0, 1 - D(x)) ] + E_z[ max(0, 1 + D(G(z))) ]

    with D(x) an unbounded score. A real example scored above 1 or a fake one below -1 costs
    nothing, so D stops pushing on examples it already separates by a margin and spends its
    capacity on the ones near the boundary (a support vector machine's loss). Its optimum
    minimises a total-variation-like divergence rather than the Jensen-Shannon one.
    """
    real_logits = _check_logits("hinge_discriminator_loss", "real_logits", real_logits)
    fake_logits = _check_logits("hinge_discriminator_loss", "fake_logits", fake_logits)
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_generator_loss(fake_scores: Tensor) -> Tensor:
    """The generator's loss paired with the hinge discriminator (Miyato et al. 2018, Eq. 17):
    loss_G = -E_z[ D(G(z)) ], the same form as the Wasserstein generator's loss."""
    fake_scores = _check_logits("hinge_generator_loss", "fake_scores", fake_scores)
    return -fake_scores.mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP's gradient penalty (Gulrajani et al. 2017, Eq. 3 and Algorithm 1):

        penalty = E_{x_hat}[ ( ||grad_x C(x_hat)||_2 - 1 )^2 ],
        x_hat = eps * x + (1 - eps) * G(z),   eps ~ U[0, 1] per example,

    a soft version of "C is 1-Lipschitz", enforced on the straight lines between data and
    samples, where the optimal critic has gradient norm 1. The caller multiplies it by lambda
    (10 in the paper). The gradient is taken with ``create_graph=True`` so the penalty itself
    can be differentiated with respect to the critic's parameters.

    The interpolates are detached from the generator: the penalty trains the critic only.
    `critic` may score several inputs jointly (a packed discriminator returns B / packing scores
    for B inputs, consecutive rows together); the gradient norm is then taken per score, over
    the inputs it saw.

    Args:
        critic: maps a batch like `real` to scores (B',) or (B', 1), B' dividing B.
        real: data, (B, ...).
        fake: generated samples, same shape.
        generator: random generator for eps (on the device of `real`), for reproducibility.
    """
    _check_same_shape("gradient_penalty", "real", real, "fake", fake)
    batch_size = real.shape[0]
    # one eps per example, broadcast over its features: (B, 1, ..., 1)
    eps = torch.rand(
        (batch_size,) + (1,) * (real.ndim - 1), generator=generator, device=real.device,
        dtype=real.dtype,
    )
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)  # (B, ...)
    scores = _check_logits("gradient_penalty", "critic(x_hat)", critic(x_hat))  # (B',)
    if batch_size % len(scores) != 0:
        raise ValueError(
            f"gradient_penalty: the critic returned {len(scores)} scores for {batch_size} inputs; "
            f"expected one score per input or per equal group of inputs"
        )
    # Scores are independent of each other's inputs, so the gradient of their sum holds each
    # score's own gradient. create_graph=True: the penalty must be differentiable itself.
    (gradients,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)  # (B, ...)
    gradients = gradients.float().reshape(len(scores), -1)  # (B', features seen by one score)
    # sqrt(sum + tiny) rather than .norm(): finite gradient even where the gradient is exactly 0
    norms = torch.sqrt((gradients**2).sum(dim=1) + 1e-12)  # (B',)
    return ((norms - 1.0) ** 2).mean()
