"""Checkerboard artefacts: how much of an image's variation repeats every second pixel.

A transposed convolution with stride 2 builds the output pixels of the four phases (row and
column even or odd) from different kernel taps: different numbers of them when the stride does
not divide the kernel size, and different ones even when it does (DCGAN's 4x4 kernel). Unless
the learned weights balance the four sums, that leaves a pattern of period two (Odena, Dumoulin
& Olah 2016, "Deconvolution and Checkerboard Artifacts", Distill). A period-two pattern lives at the highest frequencies of the
image's 2-D discrete Fourier transform X(u, v): the three Nyquist bins (H/2, 0), (0, W/2) and
(H/2, W/2). There the transform is a sum of pixels times a sign pattern, so with
s1 = (-1)^i, s2 = (-1)^j, s3 = (-1)^(i+j) at pixel (i, j):

    X(H/2, 0) = sum_ij x_ij s1,   X(0, W/2) = sum_ij x_ij s2,   X(H/2, W/2) = sum_ij x_ij s3,

and by Parseval's theorem the energy of every bin but the constant one is
sum_{(u,v) != (0,0)} |X(u, v)|^2 = H W sum_ij (x_ij - mean x)^2. The checkerboard energy of an
image is the Nyquist bins' share of that energy, a number in [0, 1]: 0 for an image with no
period-two structure, 1 for a pure checkerboard. Real images have a little (sharp edges put
energy at every frequency), so compare a generator's samples with real images, not with 0.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["checkerboard_energy"]


def checkerboard_energy(images: Tensor) -> Tensor:
    """Per image, the share of its non-constant spectral energy in the three Nyquist bins:
    (N, C, H, W) with even H and W -> (N,) in [0, 1], averaged over channels (0 for a flat image)."""
    if not isinstance(images, Tensor) or images.ndim != 4:
        got = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a batch (N, C, H, W), got {got}")
    height, width = images.shape[2:]
    if height % 2 or width % 2:
        raise ValueError(f"the Nyquist bins of a period-two pattern need even sides, got {height}x{width}")
    x = images.double()
    rows = 1 - 2 * (torch.arange(height, dtype=x.dtype, device=x.device) % 2)  # (-1)^i, (H,)
    cols = 1 - 2 * (torch.arange(width, dtype=x.dtype, device=x.device) % 2)  # (-1)^j, (W,)
    signs = torch.stack([rows[:, None].expand(-1, width), cols[None, :].expand(height, -1),
                         rows[:, None] * cols[None, :]])  # (3, H, W)
    nyquist = torch.einsum("nchw,khw->nck", x, signs).pow(2).sum(dim=2)  # (N, C)
    centred = x - x.mean(dim=(2, 3), keepdim=True)
    total = height * width * centred.pow(2).sum(dim=(2, 3))  # (N, C): Parseval, without the DC bin
    share = torch.where(total > 0, nyquist / total.clamp_min(torch.finfo(x.dtype).tiny), torch.zeros_like(total))
    return share.mean(dim=1).to(images.dtype if images.is_floating_point() else torch.float32)
