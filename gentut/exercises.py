"""Checkers for the book's coding exercises, called from a notebook.

Each ``check_*`` function runs the reader's code on fixed inputs and compares it with the
reference implementation in `gentut`. On success it prints one line starting with "Correct:" and
returns None. On failure it raises `ExerciseCheckError` (an AssertionError) whose message says
what was expected, what came, and, where a common mistake explains the difference, which one.

Later chapters add checkers in the same shape: build inputs with a fixed seed, call the reader's
function through `_call`, then `_compare` its output with the reference and with known mistakes.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gentut.losses import bernoulli_nll, gaussian_kl_standard_normal

__all__ = [
    "ExerciseCheckError",
    "check_reconstruction_loss",
    "check_corruption",
    "check_encoder_shapes",
    "check_reparameterize",
    "check_gaussian_kl",
    "check_elbo",
]


class ExerciseCheckError(AssertionError):
    """Your function does not yet do what the exercise asks; the message says why."""


# --- shared helpers ------------------------------------------------------------------------------


def _fail(message: str) -> None:
    raise ExerciseCheckError(message)


def _passed(message: str) -> None:
    # Print, don't return: a returned True would show up as an extra "True" under the message.
    print(f"Correct: {message}")


def _call(fn: Callable[..., Any], *args: Any, what: str) -> Any:
    """Call the reader's function; report an exception as a check failure naming the inputs."""
    try:
        return fn(*args)
    except ExerciseCheckError:
        raise
    except Exception as error:  # the reader's bug, reported with context
        _fail(f"calling your {what} raised {type(error).__name__}: {error}")


def _as_tensor(value: Any, what: str) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach()
    if isinstance(value, (int, float)):
        return torch.tensor(float(value))
    _fail(f"your {what} should return a torch.Tensor, got {type(value).__name__}")
    raise AssertionError  # unreachable; keeps type checkers happy


def _close(a: Tensor, b: Tensor, *, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(
        torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol)
    )


def _compare(
    got: Tensor,
    expected: Tensor,
    *,
    what: str,
    mistakes: Sequence[tuple[Tensor, str]] = (),
    rtol: float = 1e-4,
    atol: float = 1e-4,
) -> None:
    """Fail unless `got` matches `expected`; if it matches a known mistake, say which.

    Args:
        got: the reader's result.
        expected: the reference result.
        what: how to name the result in messages ("your loss").
        mistakes: pairs (result a known mistake would give, explanation of that mistake).
    """
    if got.shape != expected.shape:
        _fail(
            f"{what} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        )
    if not torch.isfinite(got).all():
        _fail(f"{what} contains NaN or infinity; expected finite values like {_show(expected)}")
    if _close(got, expected, rtol=rtol, atol=atol):
        return
    for wrong, explanation in mistakes:
        if _close(got, wrong, rtol=rtol, atol=atol):
            _fail(f"{what} is {_show(got)}, expected {_show(expected)}. {explanation}")
    _fail(f"{what} is {_show(got)}, expected {_show(expected)}")


def _show(value: Tensor) -> str:
    if value.numel() == 1:
        return f"{value.item():.6g}"
    return f"a tensor of shape {tuple(value.shape)} (first values {value.flatten()[:3].tolist()})"


# --- autoencoders --------------------------------------------------------------------------------


def check_reconstruction_loss(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check a Bernoulli reconstruction loss ``fn(logits, x)``.

    Expected: binary cross-entropy between sigmoid(logits) and x, summed over the pixels of each
    image and averaged over the batch (nats per image), as a scalar tensor.
    """
    generator = torch.Generator().manual_seed(0)
    # Logits in (0.05, 0.95) so that code which forgets the sigmoid (treating logits as
    # probabilities) still gives a finite number we can recognise.
    logits = 0.05 + 0.9 * torch.rand(8, 1, 6, 6, generator=generator)
    x = torch.rand(8, 1, 6, 6, generator=generator)
    expected = bernoulli_nll(logits, x)
    got = _as_tensor(_call(fn, logits.clone(), x.clone(), what="loss"), "loss")
    if got.shape != ():
        hint = ""
        if got.shape == (len(x),):
            hint = " You returned one value per image; average them over the batch."
        elif got.shape == x.shape:
            hint = " You returned one value per pixel; sum over pixels, then average over images."
        _fail(f"your loss should be a scalar (shape ()), got shape {tuple(got.shape)}.{hint}")

    per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    mistakes = [
        (per_pixel.mean(), "You averaged over pixels too; sum over pixels, average over images."),
        (per_pixel.sum(), "You summed over the batch too; average over images."),
        (-expected, "The sign is flipped: the loss is the NEGATIVE log-likelihood."),
        (
            F.binary_cross_entropy(logits, x, reduction="sum") / len(x),
            "You used the logits as probabilities; apply sigmoid first "
            "(or use binary_cross_entropy_with_logits).",
        ),
        (
            bernoulli_nll(torch.sigmoid(logits), x),
            "You applied sigmoid twice: binary_cross_entropy_with_logits applies it itself.",
        ),
        (
            F.binary_cross_entropy_with_logits(x, logits, reduction="sum") / len(x),
            "The arguments are swapped: the target x comes second.",
        ),
    ]
    _compare(got, expected, what="your loss", mistakes=mistakes)

    # Decoders push background logits far below zero; a loss must stay finite there.
    large = torch.tensor([[-40.0, -20.0, 20.0, 40.0], [30.0, -30.0, 0.0, 5.0]])
    target = torch.tensor([[0.0, 0.3, 1.0, 0.7], [1.0, 0.0, 0.5, 1.0]])
    got_large = _as_tensor(_call(fn, large.clone(), target.clone(), what="loss"), "loss")
    if got_large.shape != () or not torch.isfinite(got_large).all():
        _fail(
            "your loss is right for moderate logits but not finite for logits of size 20-40 "
            f"(got {_show(got_large)}): sigmoid rounds to exactly 0 or 1 there and the log "
            "blows up. Use F.binary_cross_entropy_with_logits or F.logsigmoid."
        )
    _compare(got_large, bernoulli_nll(large, target), what="your loss on large logits")
    _passed("Bernoulli negative log-likelihood, summed over pixels, mean over images.")


def check_corruption(fn: Callable[[Tensor, float], Tensor]) -> None:
    """Check a masking-noise function ``fn(x, noise_level)``.

    Expected: a new tensor of x's shape in which each pixel of each image is set to zero
    independently with probability `noise_level` and otherwise kept; `x` itself unchanged.
    """
    generator = torch.Generator().manual_seed(0)
    # Strictly positive pixels, so every zero in the output is a masked pixel.
    x = 0.1 + 0.9 * torch.rand(64, 1, 28, 28, generator=generator)
    for noise_level in (0.25, 0.75):
        original = x.clone()
        got = _call(fn, x, noise_level, what="corruption function")
        if not isinstance(got, Tensor):
            _fail(
                "your corruption function should return a torch.Tensor, "
                f"got {type(got).__name__}"
            )
        if not torch.equal(x, original):
            _fail(
                "your corruption function changed its input x in place; corrupt a copy "
                "(e.g. x * mask, not x[mask] = 0) so the clean target survives"
            )
        if got.shape != x.shape:
            _fail(f"the corrupted batch has shape {tuple(got.shape)}, expected {tuple(x.shape)}")
        got = got.detach()
        zeroed = got == 0
        kept_or_zeroed = zeroed | torch.isclose(got, x)
        if not kept_or_zeroed.all():
            if (zeroed | torch.isclose(got, x / (1 - noise_level))).all():
                _fail(
                    "the kept pixels were scaled by 1 / (1 - noise_level), as F.dropout does; "
                    "masking noise leaves kept pixels unchanged"
                )
            _fail(
                "masking noise should set pixels to 0 or leave them unchanged, but some pixels "
                "took other values (is this additive noise?)"
            )
        per_image = zeroed.flatten(1)  # (B, C*H*W)
        if (per_image == per_image[:1]).all():
            _fail(
                "every image got the same mask; draw an independent mask for each image "
                "(a mask of shape x.shape, not (H, W))"
            )
        fraction = zeroed.float().mean().item()
        if abs(fraction - noise_level) > 0.02:
            hint = ""
            if abs(fraction - (1 - noise_level)) <= 0.02:
                hint = (
                    " You zeroed 1 - noise_level: noise_level is the fraction to zero, not to keep."
                )
            _fail(
                f"with noise_level={noise_level} you zeroed {fraction:.1%} of the pixels, "
                f"expected about {noise_level:.0%}.{hint}"
            )
        again = _call(fn, x, noise_level, what="corruption function")
        if torch.equal(again == 0, zeroed):
            _fail("two calls gave the same mask; draw a fresh random mask on every call")
    _passed("masking noise zeroes the right fraction of pixels, independently per image.")


def check_encoder_shapes(
    module: nn.Module,
    latent_dim: int,
    *,
    image_shape: Sequence[int] = (1, 28, 28),
    batch_size: int = 5,
) -> None:
    """Check that an encoder maps images (B, *image_shape) to codes (B, latent_dim)."""
    if not isinstance(module, nn.Module):
        _fail(f"expected an nn.Module (your encoder), got {type(module).__name__}")
    if not any(True for _ in module.parameters()):
        _fail("your encoder has no parameters; it needs at least one learnable layer")
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(batch_size, *image_shape, generator=generator)
    was_training = module.training
    module.eval()  # batch norm and dropout behave deterministically in eval mode
    try:
        with torch.no_grad():
            device = next(module.parameters()).device
            z = _call(module, x.to(device), what=f"encoder on a batch of shape {tuple(x.shape)}")
            z_other = _call(module, torch.rand_like(x).to(device), what="encoder")
    finally:
        module.train(was_training)
    if not isinstance(z, Tensor):
        _fail(f"your encoder should return a torch.Tensor, got {type(z).__name__}")
    expected = (batch_size, latent_dim)
    if tuple(z.shape) != expected:
        hint = ""
        if z.ndim == 0 or z.shape[0] != batch_size:
            hint = (
                " The batch dimension was lost; flatten with x.flatten(1) or nn.Flatten(), "
                "which keep dimension 0."
            )
        elif z.ndim > 2:
            hint = " Flatten the feature maps (nn.Flatten()) before the final nn.Linear."
        else:
            hint = f" Make the final layer output latent_dim = {latent_dim} features."
        _fail(
            f"for input of shape {tuple(x.shape)} your encoder returned shape "
            f"{tuple(z.shape)}, expected {expected}.{hint}"
        )
    if not torch.isfinite(z).all():
        _fail("your encoder returned NaN or infinity on random images")
    if torch.allclose(z, z_other):
        _fail("your encoder returns the same codes for different images; is the input used?")
    _passed(f"images of shape {tuple(x.shape)} map to codes of shape {expected}.")


# --- variational autoencoders --------------------------------------------------------------------


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


# --- generative adversarial networks -------------------------------------------------------------

from gentut.losses import discriminator_loss, generator_loss_non_saturating  # noqa: E402

__all__ += ["check_discriminator_loss", "check_generator_loss"]


def _scalar_result(fn: Callable[..., Any], args: tuple[Tensor, ...], what: str, batch: int) -> Tensor:
    got = _as_tensor(_call(fn, *(a.clone() for a in args), what=what), what)
    if got.shape != ():
        hint = ""
        if got.shape in ((batch,), (batch, 1)):
            hint = " You returned one value per example; average them over the batch."
        _fail(f"your {what} should be a scalar (shape ()), got shape {tuple(got.shape)}.{hint}")
    return got


def _gan_logits() -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(0)
    # Logits in (0.05, 0.95), shape (B, 1) as a discriminator returns them, so code that treats
    # them as probabilities still gives a finite number we can recognise. Real and fake differ,
    # so swapping them changes the result.
    real_logits = 0.05 + 0.9 * torch.rand(16, 1, generator=generator)
    fake_logits = 0.05 + 0.5 * torch.rand(16, 1, generator=generator)
    return real_logits, fake_logits


def check_discriminator_loss(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check a discriminator loss ``fn(real_logits, fake_logits)`` on logits (B, 1).

    Expected: -[ E log D(x) + E log(1 - D(G(z))) ] with D = sigmoid(logits), each expectation a
    mean over its own batch (Goodfellow et al. 2014, Eq. 1), as a scalar tensor; the binary
    cross-entropy with label 1 for real, 0 for fake.
    """
    real, fake = _gan_logits()
    got = _scalar_result(fn, (real, fake), "discriminator loss", len(real))
    expected = discriminator_loss(real, fake)
    softplus = F.softplus
    mistakes = [
        (-(real.log().mean() + (1 - fake).log().mean()),
         "You used the logits as probabilities; D(x) = sigmoid(logit). Use "
         "binary_cross_entropy_with_logits, or -log D = softplus(-logit) and "
         "-log(1 - D) = softplus(logit)."),
        (softplus(real).mean() + softplus(-fake).mean(),
         "Real and fake are swapped: real examples get label 1 (the loss has log D(x)), fakes "
         "label 0 (log(1 - D(G(z))))."),
        (softplus(-real).sum() + softplus(fake).sum(),
         "You summed over the batch; each expectation is a mean over its examples."),
        (-expected, "The sign is flipped: the discriminator MAXIMISES log D(x) + log(1 - D(G(z))), "
         "so its loss to minimise is minus that."),
        (expected / 2, "You averaged over real and fake examples together (a mean over 2B); the "
         "loss is the SUM of the two expectations."),
        (softplus(-real).mean() - softplus(-fake).mean(),
         "The fake term is -log D(G(z)) with the wrong sign; it should be -log(1 - D(G(z))) "
         "= softplus(fake_logit)."),
    ]
    _compare(got, expected, what="your discriminator loss", mistakes=mistakes)

    # A trained discriminator produces large logits; the loss must stay finite there.
    large_real = torch.tensor([[40.0], [-30.0], [20.0], [0.0]])
    large_fake = torch.tensor([[-40.0], [30.0], [-20.0], [5.0]])
    got_large = _scalar_result(fn, (large_real, large_fake), "discriminator loss", 4)
    if not torch.isfinite(got_large):
        _fail(
            "your loss is right for moderate logits but not finite for logits of size 20-40 "
            f"(got {_show(got_large)}): sigmoid rounds to exactly 0 or 1 there and the log blows "
            "up. Use F.binary_cross_entropy_with_logits or F.softplus / F.logsigmoid."
        )
    _compare(got_large, discriminator_loss(large_real, large_fake),
             what="your discriminator loss on large logits")
    _passed("-[E log D(x) + E log(1 - D(G(z)))] from logits, mean over each batch.")


def check_generator_loss(fn: Callable[[Tensor], Tensor]) -> None:
    """Check a non-saturating generator loss ``fn(fake_logits)`` on logits (B, 1).

    Expected: -E log D(G(z)) with D = sigmoid(logits), a mean over the batch (Goodfellow et al.
    2014, Section 3), as a scalar tensor through which gradients reach the logits.
    """
    _, fake = _gan_logits()
    got = _scalar_result(fn, (fake,), "generator loss", len(fake))
    expected = generator_loss_non_saturating(fake)
    softplus = F.softplus
    saturating = (
        "This is the saturating minimax form E log(1 - D(G(z))). It has the same optimum, but its "
        "gradient d/dlogit = -sigmoid(logit) vanishes when the discriminator confidently rejects "
        "the fakes (D(G(z)) near 0), which is exactly the situation early in training; minimise "
        "-E log D(G(z)) instead."
    )
    mistakes = [
        (-softplus(fake).mean(), saturating),
        (softplus(fake).mean(),
         "This is -E log(1 - D(G(z))): the discriminator's fake term, which the generator would "
         "minimise by making its samples look MORE fake. The generator minimises -E log D(G(z))."),
        (-expected, "The sign is flipped: the generator MAXIMISES log D(G(z)), so its loss is "
         "-E log D(G(z))."),
        (-fake.log().mean(), "You used the logits as probabilities; D = sigmoid(logit), so "
         "-log D = softplus(-logit)."),
        (softplus(-fake).sum(), "You summed over the batch; average over the examples."),
    ]
    _compare(got, expected, what="your generator loss", mistakes=mistakes)

    # The point of the loss is its gradient where D rejects the fakes (logit -5, D ~ 0.007).
    rejected = torch.full((4, 1), -5.0, requires_grad=True)
    value = _call(fn, rejected, what="generator loss")
    if not isinstance(value, Tensor) or not value.requires_grad:
        _fail("no gradient can flow through your loss to the logits: compute it with tensor "
              "operations (not under torch.no_grad(), not with .detach() or .item())")
    (gradient,) = torch.autograd.grad(value.sum(), rejected)
    expected_gradient = torch.full((4, 1), -(1 - torch.sigmoid(torch.tensor(-5.0)).item()) / 4)
    if not _close(gradient, expected_gradient, rtol=1e-4, atol=1e-6):
        _fail(f"at logits -5 your loss has gradient {_show(gradient[0, 0])} per logit, expected "
              f"{_show(expected_gradient[0, 0])} = -(1 - sigmoid(-5)) / B")
    # sigmoid(-120) rounds to 0 in float32, so log(sigmoid(logit)) gives -inf there.
    large = torch.tensor([[-120.0], [-40.0], [20.0], [40.0]])
    got_large = _scalar_result(fn, (large,), "generator loss", 4)
    if not torch.isfinite(got_large):
        _fail("your loss is not finite for large logits (-120 to 40): sigmoid(-120) rounds to 0 "
              "and its log to -infinity. Use F.softplus(-logits) or -F.logsigmoid(logits) rather "
              "than log(sigmoid(logits)).")
    _compare(got_large, generator_loss_non_saturating(large), what="your generator loss on large logits")
    _passed("non-saturating -E log D(G(z)) from logits, with a strong gradient where D rejects fakes.")
