"""Checkers for the exercises of the autoencoder chapter."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gentut.exercises.checks import _as_tensor, _call, _compare, _fail, _passed, _show
from gentut.losses import bernoulli_nll

__all__ = ["check_reconstruction_loss", "check_corruption", "check_encoder_shapes"]


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
