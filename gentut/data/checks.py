"""Checks that a reader's own data fits what the book's models expect.

All images in the book are float32 tensors (N, C, H, W) with values in [0, 1], and labels are
int64 tensors (N,). These checks turn the usual slips -- a numpy array, uint8 pixels in 0..255,
a missing channel dimension -- into one message that says what came and how to fix it.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["check_images", "check_labels"]


def check_images(x: object, *, name: str = "images", tolerance: float = 0.0) -> Tensor:
    """Return `x` as float32 (N, C, H, W) in [0, 1], or raise an error saying what to change.

    `tolerance` lets values overshoot the range by that much (float rounding in a model's or a
    filter's output: a blur of white pixels gives 1.0000001); the values are returned as they are.
    """
    if isinstance(x, np.ndarray):
        raise TypeError(
            f"{name} must be a torch.Tensor, got a numpy array of shape {x.shape}; "
            f"convert it with torch.from_numpy({name})"
        )
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (N, C, H, W), got {type(x).__name__}")
    if x.dtype == torch.uint8:
        raise TypeError(
            f"{name} must hold floats in [0, 1], got uint8 (0..255); "
            f"use {name}.float() / 255"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype (float32), got {x.dtype}")
    if x.ndim == 3:
        raise ValueError(
            f"{name} must be 4-D (N, C, H, W), got 3-D shape {tuple(x.shape)}; "
            f"for grey-scale images (N, H, W) add the channel with {name}.unsqueeze(1)"
        )
    if x.ndim != 4:
        raise ValueError(f"{name} must be 4-D (N, C, H, W), got {x.ndim}-D shape {tuple(x.shape)}")
    if x.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one image, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} must be finite, got {bad} NaN or infinite values")
    low, high = float(x.min()), float(x.max())
    if low < -tolerance or high > 1.0 + tolerance:
        if high > 1.0 and high <= 255.0 and low >= -tolerance:
            hint = "; pixels in 0..255: divide by 255"
        elif low < 0.0 and low >= -1.0 and high <= 1.0 + tolerance:
            hint = "; pixels in [-1, 1] (a tanh output): map them with (x + 1) / 2"
        else:
            hint = ""
        raise ValueError(f"{name} must have values in [0, 1], got min {low:.4g} and max {high:.4g}{hint}")
    return x.to(torch.float32)


def check_labels(y: object, n: int, *, name: str = "labels") -> Tensor:
    """Return `y` as an int64 tensor (n,), or raise an error saying what came instead."""
    if isinstance(y, np.ndarray):
        raise TypeError(
            f"{name} must be a torch.Tensor, got a numpy array; convert it with torch.from_numpy({name})"
        )
    if not isinstance(y, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape ({n},), got {type(y).__name__}")
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), one per image, got {tuple(y.shape)}")
    if y.is_floating_point() or y.is_complex():
        if not torch.equal(y, y.round()):
            raise TypeError(f"{name} must hold whole numbers (class indices), got dtype {y.dtype} with fractions")
    elif y.dtype == torch.bool:
        raise TypeError(f"{name} must hold class indices, got dtype {y.dtype}")
    return y.to(torch.int64)
