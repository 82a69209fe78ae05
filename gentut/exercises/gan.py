"""Checkers for the exercises of the GAN chapter."""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gentut.exercises.checks import (
    _as_tensor,
    _call,
    _close,
    _compare,
    _fail,
    _passed,
    _show,
)
from gentut.losses import discriminator_loss, generator_loss_non_saturating

__all__ = ["check_discriminator_loss", "check_generator_loss"]


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
