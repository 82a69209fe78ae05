"""Shapes with known factors of variation: a small, offline data set in the spirit of dSprites.

dSprites (Matthey, Higgins, Hassabis and Lerchner 2017, "dSprites: disentanglement testing
sprites dataset") shows one white shape on black, and every image is fully described by a few
independent factors. Knowing the factors lets a chapter ask whether a model's latent dimensions
line up with them (disentanglement; see `gentut.metrics.mutual_information_gap`). Here the images
are 28x28 so the book's digit networks apply unchanged, and they are rendered by the package,
deterministically from a seed, with no download. The factors, each taking a few values:

| index | name        | values                                                        |
| ----- | ----------- | ------------------------------------------------------------- |
| 0     | shape       | square, ellipse, heart                                        |
| 1     | scale       | 6 values from 0.5 to 1 (fraction of the largest size)         |
| 2     | rotation    | 16 angles k * 2 pi / 16, counter-clockwise, in radians        |
| 3     | x_position  | 12 centre columns, 1 pixel apart, 8.5 to 19.5 (left to right) |
| 4     | y_position  | 12 centre rows, 1 pixel apart, 8.5 to 19.5 (top to bottom)    |

As in dSprites, rotation is not identifiable for symmetric shapes: a square looks the same
every pi/2 (4 rotation steps) and an ellipse every pi (8 steps); only the heart shows all 16.
A model cannot be blamed for not telling those rotations apart.

Each shape is an implicit region in its own coordinates (u, v), scaled so that it fits exactly
in the unit disc (so at any rotation it stays inside a disc of radius `scale * MAX_RADIUS`
pixels, and the position range keeps that disc inside the image):

    square:  max(|u|, |v|) <= 1 / sqrt(2)
    ellipse: u^2 + (v / 0.5)^2 <= 1              (2:1 aspect, long axis horizontal at rotation 0)
    heart:   a^2 + (5 b / 4 - sqrt(|a|))^2 <= 1  with (a, b) = 1.17 (u, v) + (0, 0.37)

This heart spans [-1, 1] x [-0.8, 1.26] and its smallest enclosing circle has radius 1.17
around (0, 0.37), hence the change of variables. Its notch is a fifth of its height deep, so it
still reads as a heart at the smallest scale, unlike the flatter sextic heart
(a^2 + b^2 - 1)^3 <= a^2 b^3, whose notch shrinks to a fraction of a pixel.

A pixel's value is the fraction of a 4x4 grid of points inside it that fall in the shape, after
each point is mapped back through the inverse translation, rotation and scaling: an
anti-aliased image in [0, 1]. Because positions are whole pixels apart and centres sit on pixel
centres, each (shape, scale, rotation) is drawn once into a 17x17 patch and moved by whole
pixels, which gives exactly the pixels of drawing it in place (20,000 images in a fraction of a
second).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from gentut.data.images import ImageData

__all__ = ["FactorData", "make_shapes", "render_shapes", "FACTOR_NAMES", "FACTOR_SIZES", "SHAPE_NAMES"]

SIDE = 28            # images are SIDE x SIDE, like the book's digits
MAX_RADIUS = 8       # pixels: radius of the disc holding a shape at scale 1
WINDOW = 2 * MAX_RADIUS + 1  # side of the patch that holds any shape, centred on a pixel centre
SUPERSAMPLES = 4     # points per pixel side; 4x4 = 16 grey levels of anti-aliasing

SHAPE_NAMES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "rotation", "x_position", "y_position")
# Positions are whole pixels apart, as many as fit the patch in the image: 12.
FACTOR_SIZES = (3, 6, 16, SIDE - WINDOW + 1, SIDE - WINDOW + 1)
ELLIPSE_MINOR = 0.5                # semi-minor axis; the semi-major axis is 1
HEART_SCALE, HEART_SHIFT = 1.17, 0.37  # maps the unit disc onto the heart's enclosing circle


def _factor_values() -> list[Tensor]:
    """The value behind each index of each factor (a fresh list of new tensors)."""
    # Centres on pixel centres, from WINDOW / 2 = 8.5 to 19.5 (the image spans [0, 28]).
    positions = WINDOW / 2 + torch.arange(FACTOR_SIZES[3], dtype=torch.float64)
    return [
        torch.arange(FACTOR_SIZES[0]),                                   # shape id
        torch.linspace(0.5, 1.0, FACTOR_SIZES[1], dtype=torch.float64),  # scale
        torch.arange(FACTOR_SIZES[2], dtype=torch.float64) * (2 * math.pi / FACTOR_SIZES[2]),  # rotation, radians
        positions,                                                       # x: column of the centre
        positions.clone(),                                               # y: row of the centre
    ]


@dataclass(frozen=True)
class FactorData:
    """Images with the factor indices that made them.

    Attributes:
        images: (N, 1, 28, 28) float32 in [0, 1], white shapes on black.
        factors: (N, 5) int64, column k is the index into `factor_values[k]`.
        factor_names: ("shape", "scale", "rotation", "x_position", "y_position").
        factor_sizes: number of values of each factor, (3, 6, 16, 12, 12).
        factor_values: one tensor per factor: shape id, scale, rotation (radians), and the
            centre's column and row in pixels.
        shape_names: ("square", "ellipse", "heart"), the names of the shape ids.
    """

    images: Tensor
    factors: Tensor
    factor_names: tuple[str, ...] = FACTOR_NAMES
    factor_sizes: tuple[int, ...] = FACTOR_SIZES
    factor_values: tuple[Tensor, ...] = ()
    shape_names: tuple[str, ...] = SHAPE_NAMES
    source: str = ""

    def __post_init__(self) -> None:
        if not self.factor_values:
            object.__setattr__(self, "factor_values", tuple(_factor_values()))
        if self.images.ndim != 4 or self.images.shape[1:] != (1, SIDE, SIDE):
            raise ValueError(f"images must have shape (N, 1, {SIDE}, {SIDE}), got {tuple(self.images.shape)}")
        expected = (len(self.images), len(self.factor_names))
        if self.factors.dtype != torch.int64 or tuple(self.factors.shape) != expected:
            raise ValueError(
                f"factors must be int64 of shape {expected}, got {self.factors.dtype} {tuple(self.factors.shape)}"
            )

    def __len__(self) -> int:
        return len(self.images)

    def factor(self, name: str) -> Tensor:
        """The (N,) indices of one factor, by name, e.g. `data.factor("shape")`."""
        if name not in self.factor_names:
            raise ValueError(f"unknown factor {name!r}; factors are {', '.join(self.factor_names)}")
        return self.factors[:, self.factor_names.index(name)]

    def to_image_data(self) -> ImageData:
        """The images as `ImageData` with the shape as label, ready for `.loader(batch_size)`."""
        return ImageData(
            images=self.images,
            labels=self.factor("shape").clone(),
            name="shapes",
            source=self.source or f"procedural shapes ({len(self)} images)",
            class_names=self.shape_names,
        )

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n}: {s}" for n, s in zip(self.factor_names, self.factor_sizes))
        return f"FactorData({len(self)} images of shape (1, {SIDE}, {SIDE}); factors {sizes}; {self.source})"


def _check_factors(factors: Tensor) -> Tensor:
    if not isinstance(factors, Tensor):
        raise TypeError(f"factors must be a torch.Tensor (N, 5) of int64 indices, got {type(factors).__name__}")
    if factors.dtype in (torch.bool,) or factors.is_floating_point() or factors.is_complex():
        raise TypeError(f"factors must hold integer indices (int64), got {factors.dtype}")
    if factors.ndim != 2 or factors.shape[1] != len(FACTOR_SIZES) or len(factors) == 0:
        raise ValueError(
            f"factors must have shape (N, {len(FACTOR_SIZES)}) with N >= 1, one column per factor "
            f"{FACTOR_NAMES}, got {tuple(factors.shape)}"
        )
    factors = factors.to(device="cpu", dtype=torch.int64)
    sizes = torch.tensor(FACTOR_SIZES)
    bad = (factors < 0) | (factors >= sizes)
    if bad.any():
        k = int(bad.any(dim=0).nonzero()[0])
        raise ValueError(
            f"factor {FACTOR_NAMES[k]!r} (column {k}) must be in [0, {FACTOR_SIZES[k] - 1}], "
            f"got values {factors[bad[:, k], k].unique()[:5].tolist()}"
        )
    return factors


def _square(u: Tensor, v: Tensor) -> Tensor:
    return torch.maximum(u.abs(), v.abs()) <= 1 / math.sqrt(2)


def _ellipse(u: Tensor, v: Tensor) -> Tensor:
    return u.square() + (v / ELLIPSE_MINOR).square() <= 1


def _heart(u: Tensor, v: Tensor) -> Tensor:
    a, b = HEART_SCALE * u, HEART_SCALE * v + HEART_SHIFT
    return a.square() + (1.25 * b - a.abs().sqrt()).square() <= 1


INSIDE = (_square, _ellipse, _heart)  # by shape id: whether canonical points (u, v), v up, are in the shape


@functools.lru_cache(maxsize=1)
def _sprite_bank() -> Tensor:
    """Every (shape, scale, rotation) drawn once, centred in a WINDOW x WINDOW patch:
    (3, 6, 16, WINDOW, WINDOW) float32 in [0, 1].

    Positions are whole pixels apart and every centre sits on a pixel centre, so moving a shape
    is shifting its patch by whole pixels: the same pixels as drawing it in place, 288 drawings
    instead of one per image.
    """
    values = _factor_values()
    shape, scale, rotation = torch.meshgrid(
        *(torch.arange(size) for size in FACTOR_SIZES[:3]), indexing="ij"
    )  # each (3, 6, 16)
    shape, radius = shape.flatten(), values[1][scale.flatten()] * MAX_RADIUS  # (B,)
    angle = values[2][rotation.flatten()]
    # S x S sample points per pixel at the centres of a regular sub-grid, measured from the
    # patch centre (WINDOW / 2, a pixel centre) in units of each shape's radius.
    points = (torch.arange(WINDOW * SUPERSAMPLES, dtype=torch.float64) + 0.5) / SUPERSAMPLES - WINDOW / 2  # (P,)
    dx = points[None, None, :] / radius[:, None, None]  # (B, 1, P): along columns
    dy = points[None, :, None] / radius[:, None, None]  # (B, P, 1): along rows, pointing down
    cos, sin = torch.cos(angle).view(-1, 1, 1), torch.sin(angle).view(-1, 1, 1)
    # Inverse rotation of (dx, -dy) (rows flipped so that v points up): turning the shape by
    # +angle on screen means turning each sample point by -angle into the shape's own frame.
    u = cos * dx - sin * dy  # (B, P, P)
    v = -sin * dx - cos * dy
    inside = torch.stack([INSIDE[s](u[b], v[b]) for b, s in enumerate(shape.tolist())])  # (B, P, P)
    # A pixel's value: the fraction of its S x S points inside the shape.
    patches = inside.to(torch.float32).view(-1, WINDOW, SUPERSAMPLES, WINDOW, SUPERSAMPLES).mean(dim=(2, 4))
    return patches.view(*FACTOR_SIZES[:3], WINDOW, WINDOW)


def render_shapes(factors: Tensor) -> Tensor:
    """Images (N, 1, 28, 28) float32 in [0, 1] for chosen factor indices (N, 5) int64.

    Columns follow `FACTOR_NAMES`. For a traversal, repeat one row and vary one column, e.g.
    ``f = torch.tensor([[2, 5, 0, 6, 6]]).repeat(16, 1); f[:, 2] = torch.arange(16)`` turns a
    heart through all 16 rotations. The same indices always give the same pixels.
    """
    factors = _check_factors(factors)
    patches = _sprite_bank()[factors[:, 0], factors[:, 1], factors[:, 2]]  # (N, W, W)
    # x_position index k puts the centre at column WINDOW / 2 + k, i.e. the patch's first column at k.
    rows = (factors[:, 4, None] + torch.arange(WINDOW))[:, :, None]  # (N, W, 1)
    columns = (factors[:, 3, None] + torch.arange(WINDOW))[:, None, :]  # (N, 1, W)
    images = torch.zeros(len(factors), SIDE, SIDE)
    images[torch.arange(len(factors))[:, None, None], rows, columns] = patches
    return images.unsqueeze(1)  # (N, 1, 28, 28)


def make_shapes(n: int, *, seed: int = 0) -> FactorData:
    """`n` shape images with every factor drawn independently and uniformly at random.

    The same (n, seed) gives bitwise the same data; 20,000 images take well under a second.
    All 3 * 6 * 16 * 12 * 12 = 41,472 combinations can occur, so a large `n` repeats
    some of them (as does any sample from dSprites).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    generator = torch.Generator().manual_seed(seed)
    factors = torch.stack(
        [torch.randint(0, size, (n,), generator=generator) for size in FACTOR_SIZES], dim=1
    )  # (N, 5)
    return FactorData(
        images=render_shapes(factors),
        factors=factors,
        source=f"procedural shapes (generated, seed {seed})",
    )
