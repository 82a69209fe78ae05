"""Checkers for the exercises of the VAE chapter."""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gentut.exercises.checks import _as_tensor, _call, _close, _compare, _fail, _passed
from gentut.losses import bernoulli_nll, gaussian_kl_standard_normal

__all__ = ["check_reparameterize", "check_gaussian_kl", "check_elbo"]


def check_reparameterize(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check a reparameterised sampler ``fn(mean, logvar) -> z``.

    Expected: z = mean + exp(logvar / 2) * eps with fresh eps ~ N(0, I) of mean's shape, so that z
    ~ N(mean, exp(logvar)) and gradients flow to both mean and logvar (Kingma & Welling 2013).
    """
    target_mean = torch.tensor([0.5, -1.0, 2.0, 0.0])
    target_logvar = torch.tensor([0.0, math.log(4.0), math.log(0.25), -1.0])
    rows = 20_000  # enough samples that the sample variance is within ~1% of the true one
    mean = target_mean.repeat(rows, 1).requires_grad_(True)  # (rows, 4)
    logvar = target_logvar.repeat(rows, 1).requires_grad_(True)
    with torch.random.fork_rng():  # a fixed seed for the check, the reader's RNG state untouched
        torch.manual_seed(0)
        z = _call(fn, mean, logvar, what="reparameterize function")
        again = _call(fn, mean, logvar, what="reparameterize function")
    if not isinstance(z, Tensor):
        _fail(f"your function should return a torch.Tensor, got {type(z).__name__}")
    if z.shape != mean.shape:
        _fail(f"for mean and logvar of shape {tuple(mean.shape)} you returned shape "
              f"{tuple(z.shape)}; z has one value per latent dimension of each example, "
              "the shape of mean (draw eps with torch.randn_like(mean))")
    if not torch.isfinite(z).all():
        _fail("your samples contain NaN or infinity")
    samples = z.detach()
    if samples.std(dim=0).max() < 1e-6:
        _fail("your z is not random: every sample is the same. Add noise: "
              "z = mean + exp(logvar / 2) * eps with eps = torch.randn_like(mean)")
    if isinstance(again, Tensor) and torch.equal(again.detach(), samples):
        _fail("two calls gave the same z; draw fresh noise on every call "
              "(torch.randn_like(mean)) rather than reusing a fixed eps or seed")

    sample_mean, sample_var = samples.mean(dim=0), samples.var(dim=0)  # (4,) each
    if not torch.allclose(sample_mean, target_mean, atol=0.05):
        _fail(f"your samples have means {sample_mean.tolist()} in the 4 dimensions, expected "
              f"{target_mean.tolist()}: z should be centred on mean")
    variance = target_logvar.exp()
    if not torch.allclose(sample_var, variance, rtol=0.1):
        mistakes = [
            (target_logvar.exp() ** 2, "You used std = exp(logvar), but exp(logvar) is the variance; "
             "the standard deviation is exp(logvar / 2)."),
            (target_logvar**2, "You used logvar itself as the standard deviation; "
             "std = exp(logvar / 2)."),
            (target_logvar.abs(), "You used logvar as the variance; the variance is exp(logvar)."),
            (torch.ones(4), "Your noise is not scaled: multiply eps by std = exp(logvar / 2)."),
        ]
        for wrong, explanation in mistakes:
            if torch.allclose(sample_var, wrong, rtol=0.1):
                _fail(f"your samples have variances {_rounded(sample_var)}, expected "
                      f"{_rounded(variance)} (= exp(logvar)). {explanation}")
        _fail(f"your samples have variances {_rounded(sample_var)}, expected {_rounded(variance)} "
              "(= exp(logvar)); std = exp(logvar / 2)")

    if not z.requires_grad:
        _fail("no gradient can flow through your z: compute it from mean and logvar with tensor "
              "operations (not under torch.no_grad(), not with .detach() or .item())")
    grad_mean, grad_logvar = torch.autograd.grad(z.sum(), (mean, logvar), allow_unused=True)
    if grad_mean is None or grad_logvar is None or not grad_mean.any() or not grad_logvar.any():
        which = "mean" if grad_mean is None or not grad_mean.any() else "logvar"
        _fail(f"no gradient reaches {which}. torch.normal(mean, std) samples without passing "
              "gradients; write z = mean + exp(logvar / 2) * eps so the noise is an input "
              "and z is a differentiable function of mean and logvar")
    expected_grad_logvar = 0.5 * (samples - mean.detach())  # d z / d logvar = 0.5 * std * eps
    if not (_close(grad_mean, torch.ones_like(grad_mean), rtol=1e-4, atol=1e-4)
            and _close(grad_logvar, expected_grad_logvar, rtol=1e-3, atol=1e-4)):
        _fail("gradients reach mean and logvar but not as z = mean + exp(logvar / 2) * eps "
              "would give them (dz/dmean = 1, dz/dlogvar = (z - mean) / 2)")
    _passed("z = mean + exp(logvar / 2) * eps: right mean and variance, and gradients reach "
            "mean and logvar.")


def _rounded(values: Tensor) -> list[float]:
    return [round(v, 3) for v in values.tolist()]


def _kl_inputs() -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(0)
    mean = torch.randn(8, 5, generator=generator)
    # log-variances in (-2, 1.5), away from 0, so that mistakes give recognisably wrong numbers
    logvar = -2.0 + 3.5 * torch.rand(8, 5, generator=generator)
    logvar = torch.where(logvar.abs() < 0.1, logvar + 0.3, logvar)
    return mean, logvar


def check_gaussian_kl(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check ``fn(mean, logvar)``: KL(N(mean, exp(logvar)) || N(0, I)) as one number.

    Expected: 0.5 * sum_j (mean_j^2 + exp(logvar_j) - 1 - logvar_j), summed over the latent
    dimensions of each example and averaged over the batch (Kingma & Welling 2013, Appendix B).
    """
    mean, logvar = _kl_inputs()  # (8, 5) each
    got = _as_tensor(_call(fn, mean.clone(), logvar.clone(), what="KL function"), "KL function")
    if got.shape != ():
        hint = ""
        if got.shape == (len(mean),):
            hint = " You returned one KL per example; average them over the batch."
        elif got.shape == mean.shape:
            hint = " You returned one KL per latent dimension; sum over dimensions, average over examples."
        _fail(f"your KL should be a scalar (shape ()), got shape {tuple(got.shape)}.{hint}")
    per_dimension = 0.5 * (mean**2 + logvar.exp() - 1 - logvar)  # (8, 5)
    expected = gaussian_kl_standard_normal(mean, logvar)
    std = (0.5 * logvar).exp()
    mistakes = [
        (per_dimension.mean(), "You averaged over the latent dimensions too; sum over dimensions, "
         "average over the batch."),
        (per_dimension.sum(), "You summed over the batch too; average over examples."),
        (2 * expected, "The factor 0.5 in front of the sum is missing."),
        (-expected, "The sign is flipped: a KL divergence is never negative."),
        (0.5 * (mean**2 + logvar**2 - 1 - torch.log(logvar**2)).sum(1).mean(),
         "You treated logvar as the standard deviation; it is the log of the variance, so the "
         "variance is exp(logvar)."),
        (0.5 * (mean**2 + std - 1 - std.log()).sum(1).mean(),
         "You used the standard deviation exp(logvar / 2) where the formula needs the variance "
         "exp(logvar)."),
        (0.5 * (mean**2 + logvar.exp() ** 2 - 1 - 2 * logvar).sum(1).mean(),
         "You treated exp(logvar) as the standard deviation; exp(logvar) is the variance."),
        (expected + 0.5 * mean.shape[1], "The -1 inside the sum is missing."),
        (0.5 * (mean**2 + logvar.exp() - 1 + logvar).sum(1).mean(),
         "The sign of logvar is flipped: it is mean^2 + exp(logvar) - 1 - logvar."),
    ]
    _compare(got, expected, what="your KL", mistakes=mistakes)
    zero = _as_tensor(_call(fn, torch.zeros(3, 4), torch.zeros(3, 4), what="KL function"), "KL function")
    _compare(zero, torch.tensor(0.0), what="your KL of the prior to itself")
    _passed("KL(q(z|x) || N(0, I)) in closed form, summed over latent dimensions, mean over the batch.")


def check_elbo(fn: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]) -> None:
    """Check ``fn(x, logits, mean, logvar)``: the batch-mean ELBO of a Bernoulli VAE (nats).

    Expected: mean over the batch of log p(x | z) - KL(q(z | x) || N(0, I)), where log p(x | z) is
    minus the binary cross-entropy of `logits` (decoded from a sample z) summed over pixels. The
    ELBO is a log-likelihood bound: a negative number; the training loss is minus it.
    """
    generator = torch.Generator().manual_seed(1)
    x = (torch.rand(8, 1, 4, 4, generator=generator) < 0.4).float()
    logits = 0.05 + 0.9 * torch.rand(8, 1, 4, 4, generator=generator)  # also valid probabilities
    mean, logvar = _kl_inputs()
    got = _as_tensor(
        _call(fn, x.clone(), logits.clone(), mean.clone(), logvar.clone(), what="ELBO function"),
        "ELBO function",
    )
    if got.shape != ():
        hint = ""
        if got.shape == (len(x),):
            hint = " You returned one value per example; average them over the batch."
        _fail(f"your ELBO should be a scalar (shape ()), got shape {tuple(got.shape)}.{hint}")
    reconstruction = bernoulli_nll(logits, x, reduction="none")  # (B,) -log p(x|z)
    kl = gaussian_kl_standard_normal(mean, logvar, reduction="none")  # (B,)
    expected = (-reconstruction - kl).mean()
    per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).mean(1)
    mistakes = [
        (-expected, "You returned the loss (the negative ELBO); the ELBO is log p(x|z) - KL, "
         "a negative number."),
        ((-reconstruction + kl).mean(), "The KL is added; the ELBO subtracts it."),
        ((reconstruction - kl).mean(), "The reconstruction term has the wrong sign: log p(x|z) is "
         "minus the binary cross-entropy."),
        (-reconstruction.mean(), "The KL term is missing."),
        ((-per_pixel - kl).mean(), "You averaged the cross-entropy over pixels; sum it over pixels "
         "(the log-likelihood of an image is the sum over its pixels)."),
        ((-reconstruction - kl / mean.shape[1]).mean(), "You averaged the KL over latent "
         "dimensions; sum it."),
        ((-F.binary_cross_entropy(logits, x, reduction="none").flatten(1).sum(1) - kl).mean(),
         "You used the logits as probabilities; apply sigmoid first (or use "
         "binary_cross_entropy_with_logits)."),
    ]
    _compare(got, expected, what="your ELBO", mistakes=mistakes)
    _passed("ELBO = log p(x|z) - KL, summed over pixels and latent dimensions, mean over the batch.")
