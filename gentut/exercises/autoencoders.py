"""Checkers for the exercises of the autoencoder chapter."""
from __future__ import annotations

import math
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

    # Logits of 100 and more: float32 exp overflows to inf above about 88.7, so the textbook
    # softplus log(1 + exp(a)) - x * a, which is fine up to 40, becomes inf here. Only a form
    # that never exponentiates a positive number (or the fused torch loss) survives.
    extreme = torch.tensor(
        [[-1000.0, -100.0, 100.0, 1000.0], [100.0, -1000.0, 1000.0, -100.0]], dtype=torch.float32
    )
    target = torch.tensor([[0.0, 0.3, 1.0, 0.7], [0.5, 1.0, 0.0, 0.2]], dtype=torch.float32)
    got_extreme = _as_tensor(_call(fn, extreme.clone(), target.clone(), what="loss"), "loss")
    expected_extreme = bernoulli_nll(extreme, target)
    if got_extreme.shape == () and not torch.isfinite(got_extreme).all():
        _fail(
            "your loss is right for logits up to 40 but not finite at large logits "
            f"(+-100 and +-1000 in float32: got {_show(got_extreme)}, expected "
            f"{_show(expected_extreme)}). exp(a) overflows to inf once a > 88, so "
            "log(1 + exp(a)) is inf. Use the stable form max(a, 0) - x*a + log1p(exp(-|a|)), "
            "i.e. a.clamp(min=0) - x * a + torch.log1p(torch.exp(-a.abs())), "
            "or F.binary_cross_entropy_with_logits."
        )
    _compare(
        got_extreme, expected_extreme, what="your loss on logits of size 100-1000 (float32)"
    )
    _passed("Bernoulli negative log-likelihood, summed over pixels, mean over images.")


def check_corruption(fn: Callable[[Tensor, float], Tensor]) -> None:
    """Check a masking-noise function ``fn(x, noise_level)``.

    Expected: a new tensor of x's shape and dtype in which each pixel of each image is set to
    zero independently with probability `noise_level` and otherwise kept; `x` itself unchanged.
    """
    generator = torch.Generator().manual_seed(0)
    # Strictly positive pixels, so every zero in the output is a masked pixel.
    x = 0.1 + 0.9 * torch.rand(64, 1, 28, 28, generator=generator)
    # A fixed seed makes the statistical checks below deterministic for a given answer;
    # fork_rng leaves the reader's own RNG state as it was.
    with torch.random.fork_rng():
        torch.manual_seed(0)
        for noise_level in (0.25, 0.75):
            _check_masking_at(fn, x, noise_level)
    _passed(
        "masking noise zeroes the right fraction of pixels, independently per pixel and per image."
    )


def _check_masking_at(fn: Callable[[Tensor, float], Tensor], x: Tensor, noise_level: float) -> None:
    """Run the checks of `check_corruption` for one noise level."""
    original = x.clone()
    got = _call(fn, x, noise_level, what="corruption function")
    if not isinstance(got, Tensor):
        _fail(f"your corruption function should return a torch.Tensor, got {type(got).__name__}")
    if not torch.equal(x, original):
        _fail(
            "your corruption function changed its input x in place; corrupt a copy "
            "(e.g. x * mask, not x[mask] = 0) so the clean target survives"
        )
    # Checked before any arithmetic: comparing a bool or long result with x would otherwise
    # surface as torch's bare "Long did not match Float" RuntimeError.
    if got.dtype != x.dtype:
        if got.dtype == torch.bool:
            hint = " That looks like the mask itself; return the masked images, x * mask."
        elif not got.is_floating_point():
            hint = (
                " Integer pixels cannot hold grey values; multiply x by the mask "
                "(x * mask keeps x's dtype) instead of converting with .long() or .int()."
            )
        else:
            hint = " Keep x's dtype: draw the noise with torch.rand_like(x) and do not convert."
        _fail(
            "your corruption function should return float images like its input "
            f"(dtype {x.dtype}, shape {tuple(x.shape)}, values in [0, 1]), got a tensor of "
            f"dtype {got.dtype} and shape {tuple(got.shape)}.{hint}"
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
            hint = " You zeroed 1 - noise_level: noise_level is the fraction to zero, not to keep."
        _fail(
            f"with noise_level={noise_level} you zeroed {fraction:.1%} of the pixels, "
            f"expected about {noise_level:.0%}.{hint}"
        )
    # The right fraction per image is not enough: masks of 2x2 blocks or of whole rows have it
    # too. Independent pixels mean no correlation between the zeroing of any two of them.
    for pairs, correlation, count in _zeroing_correlations(zeroed):
        # Under independence the sample correlation of `count` pairs has standard deviation
        # about 1 / sqrt(count); 6 of those is never reached by chance but far below what
        # blocks (about 0.5 for neighbours, 1/27 along a row) or rows (1) give.
        tolerance = 6 / math.sqrt(count)
        if abs(correlation) > tolerance:
            _fail(
                f"pixels are not zeroed independently: for {pairs} the zeroing has correlation "
                f"{correlation:.3f}, expected about 0 (within +-{tolerance:.3f} over {count} "
                "pairs). Draw one random number per pixel, e.g. "
                "x * (torch.rand_like(x) >= noise_level), not one per block or per row."
            )
    again = _call(fn, x, noise_level, what="corruption function")
    if isinstance(again, Tensor) and torch.equal(again == 0, zeroed):
        _fail("two calls gave the same mask; draw a fresh random mask on every call")


def _zeroing_correlations(zeroed: Tensor) -> list[tuple[str, float, int]]:
    """Correlations of being zeroed between pixel pairs: (which pairs, correlation, pair count).

    `zeroed` is a bool mask (..., H, W). All pairs share the overall mean and variance, so each
    value is mean(c_i * c_j) / var(c) with c the centred mask.
    """
    c = zeroed.double().flatten(0, -3)  # (images * channels, H, W)
    c = c - c.mean()
    variance = c.pow(2).mean().item()
    if variance == 0:  # all or no pixels zeroed; the fraction check has already failed then
        return []
    _, height, width = c.shape
    results = []
    for pairs, left, right in (
        ("horizontal neighbours", c[:, :, :-1], c[:, :, 1:]),
        ("vertical neighbours", c[:, :-1, :], c[:, 1:, :]),
    ):
        results.append((pairs, (left * right).mean().item() / variance, left.numel()))
    # All pairs i < j within a line at once: sum_{i<j} c_i c_j = ((sum c)^2 - sum c^2) / 2.
    for pairs, dim, length in (
        ("pixels in the same row", 2, width),
        ("pixels in the same column", 1, height),
    ):
        products = (c.sum(dim).pow(2) - c.pow(2).sum(dim)).sum().item() / 2
        count = c.numel() // length * length * (length - 1) // 2
        results.append((pairs, products / count / variance, count))
    return results


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
