"""Stochastic binarisation: grey-scale images turned into black-and-white samples.

A Bernoulli decoder models pixels that are 0 or 1. Salakhutdinov and Murray ("On the
quantitative analysis of deep belief networks", ICML 2008) made MNIST binary by drawing each
pixel as 1 with probability equal to its grey value, and likelihoods reported on "binarised
MNIST" follow them. Drawing once and keeping the result (`ImageData.binarized(seed)`) gives a
fixed data set; calling `binarize` on every batch instead ("dynamic binarisation") gives fresh
samples each epoch and acts as a regulariser, so numbers from the two are not comparable.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["binarize"]


def binarize(images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """Each pixel set to 1 with probability equal to its value in [0, 1], else 0.

    Returns a float tensor of the same shape, dtype and device. Pass a seeded `generator` (on
    the images' device) for the same draw every time; without one the global RNG is used.
    """
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a torch.Tensor with values in [0, 1], got {type(images).__name__}")
    if not images.is_floating_point():
        hint = "; use images.float() / 255" if images.dtype == torch.uint8 else ""
        raise TypeError(f"images must have a floating dtype with values in [0, 1], got {images.dtype}{hint}")
    if images.numel() > 0:
        low, high = float(images.min()), float(images.max())
        if not (0.0 <= low and high <= 1.0):  # also catches NaN
            raise ValueError(
                f"images must have values in [0, 1] (probabilities), got min {low:.4g} and max {high:.4g}"
            )
    if generator is not None and generator.device.type != images.device.type:
        raise ValueError(
            f"generator must be on the images' device ({images.device}), got one on {generator.device}"
        )
    # U ~ Uniform[0, 1), so P(U < p) = p: a grey value of 0 never lights up, 1 always does.
    uniform = torch.rand(images.shape, generator=generator, dtype=images.dtype, device=images.device)
    return (uniform < images).to(images.dtype)
