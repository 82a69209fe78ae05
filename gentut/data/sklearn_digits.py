"""scikit-learn's bundled 8x8 hand-written digits (the UCI "Optical Recognition of Handwritten
Digits" test set, Alpaydin and Kaynak, 1998): 1,797 tiny images that need no download.

Pixel values 0..16 are scaled to [0, 1]. The train/test split is stratified and deterministic.
With ``size=28`` the images are upsampled (bilinear) so that the 28x28 models run on them too.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gentut.data.images import ImageData

__all__ = ["load_sklearn_digits"]

TEST_SHARE = 0.2


def _stratified_split(labels: torch.Tensor, split: str, seed: int) -> torch.Tensor:
    """Indices of `split`: within every class, a seeded shuffle and the last TEST_SHARE for test."""
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(int(labels.max()) + 1):
        members = torch.nonzero(labels == c).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        num_test = round(TEST_SHARE * len(members))
        chosen.append(members[len(members) - num_test :] if split == "test" else members[: len(members) - num_test])
    return torch.sort(torch.cat(chosen)).values


def load_sklearn_digits(split: str = "train", *, size: int = 8, seed: int = 0) -> ImageData:
    """The 8x8 digits of `split` ("train" 80 %, "test" 20 %, "all") as (N, 1, size, size) in [0, 1]."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8 (8 keeps the original pixels), got {size!r}")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images).float().unsqueeze(1) / 16.0  # (1797, 1, 8, 8)
    labels = torch.from_numpy(bunch.target).long()
    if split != "all":
        index = _stratified_split(labels, split, seed)
        images, labels = images[index], labels[index]
    if size != 8:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    return ImageData(
        images=images,
        labels=labels,
        name="sklearn-digits",
        source=f"scikit-learn's bundled 8x8 digits ({split} split, seed {seed}"
        + (f", upsampled to {size}x{size})" if size != 8 else ")"),
        class_names=tuple(str(d) for d in range(10)),
    )
