"""Running a model over many examples: one batched, eval-mode pass, results on the CPU.

Models, metrics and the feature classifier all compute per-example numbers (a reconstruction
error, an ELBO, a feature vector) the same way through `per_example`, so none of them depends on
the others to do it.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

__all__ = ["per_example"]


@torch.no_grad()
def per_example(
    model: nn.Module, images: Tensor, fn: Callable[[Tensor], Tensor], *, batch_size: int = 256
) -> Tensor:
    """``fn(batch)`` for each batch of `images`, concatenated on the CPU: shape (N, ...).

    The model runs in eval mode (restored afterwards), without gradients, on its own device, so
    any per-example number (a reconstruction error, an anomaly score) is computed the same way.
    """
    if not isinstance(images, Tensor) or images.ndim < 2 or len(images) == 0:
        raise ValueError(
            "images must be a non-empty batch (N, C, H, W), got "
            f"{tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else images.device
    was_training = model.training
    model.eval()
    try:
        return torch.cat(
            [fn(images[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(images), batch_size)]
        )
    finally:
        model.train(was_training)
