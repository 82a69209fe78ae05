"""Offline hand-written-looking digits: the book's default data set when MNIST cannot be fetched.

Every image is made from a clean glyph of a digit, drawn once per (style, digit) at 48x48, then
bent per sample the way hand-writing varies: a random affine map (rotation, slant, aspect), a
smooth elastic displacement field (Simard, Steinkraus and Platt, "Best practices for
convolutional neural networks applied to visual document analysis", ICDAR 2003), thicker
strokes (grey-scale dilation) and a mild blur. Finally the digit is
normalised the way LeCun et al. built MNIST: its bounding box is scaled to fit 20x20 keeping the
aspect ratio, and it is placed in a 28x28 image with its centre of mass at the centre.

Styles: the digit glyphs of the fonts that ship with matplotlib (DejaVu, STIX, Computer Modern)
and a few stroke skeletons drawn with a round pen, which give the plain "1", open "4" and
loopy "2" that fonts lack. Everything random comes from one ``torch.Generator`` seeded from
(seed, split), so the same arguments give bitwise the same tensor, and train and test draw from
different streams.
"""
from __future__ import annotations

import functools
import hashlib
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gentut.data.images import ImageData

__all__ = ["make_synthetic_digits", "SPLITS"]

SPLITS = ("train", "test")
CANVAS = 48          # side of the finer canvas the digits are bent on
GLYPH_HEIGHT = 26    # glyph height on that canvas; leaves room for rotation and slant
BOX = 20             # MNIST: the digit's bounding box is fitted into 20x20 ...
SIDE = 28            # ... and placed in a 28x28 image by its centre of mass
CHUNK = 2048         # images bent at once: bounds memory (CHUNK x 48 x 48 floats per tensor)

# (font file, stroke weight: -1 thin, 0 regular, 1 bold). Left out: DejaVu Sans Mono, whose
# zero carries a dot inside, and cmti10, whose calligraphic hairlines vanish at this size.
FONT_FILES = (
    ("DejaVuSans.ttf", 0),
    ("DejaVuSans-Bold.ttf", 1),
    ("DejaVuSans-Oblique.ttf", 0),
    ("DejaVuSans-BoldOblique.ttf", 1),
    ("DejaVuSerif.ttf", 0),
    ("DejaVuSerif-Italic.ttf", 0),
    ("DejaVuSerif-Bold.ttf", 1),
    ("STIXGeneral.ttf", 0),
    ("STIXGeneralItalic.ttf", -1),
    ("STIXGeneralBol.ttf", 1),
    ("cmr10.ttf", 0),
    ("cmss10.ttf", 0),
)


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float) -> list:
    """Points on an elliptic arc, angles in degrees (counter-clockwise, y up)."""
    t = np.radians(np.linspace(start, stop, 48))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


# Pen strokes of hand-written digits in a box x in [0, 0.6], y in [0, 1] (y up); each digit has
# one or two variants, each a list of polylines drawn with a round pen.
SKELETONS: dict[str, list[list[list[tuple[float, float]]]]] = {
    "0": [[_arc(0.3, 0.5, 0.27, 0.49, 90, 450)],
          [_arc(0.3, 0.5, 0.22, 0.49, 100, 460)]],
    "1": [[[(0.32, 0.0), (0.34, 1.0)]],
          [[(0.12, 0.78), (0.36, 1.0), (0.33, 0.0)]]],
    "2": [[_arc(0.3, 0.72, 0.27, 0.27, 160, -35) + [(0.02, 0.0), (0.6, 0.02)]],
          [_arc(0.3, 0.72, 0.27, 0.27, 150, -40)
           + [(0.08, 0.08)] + _arc(0.13, 0.1, 0.09, 0.09, 180, 360)[1:] + [(0.6, 0.03)]]],
    "3": [[_arc(0.28, 0.75, 0.25, 0.24, 150, -90) + _arc(0.28, 0.26, 0.29, 0.26, 90, -150)],
          [[(0.04, 1.0), (0.56, 1.0), (0.25, 0.55)] + _arc(0.28, 0.27, 0.29, 0.28, 80, -150)]],
    "4": [[[(0.42, 1.0), (0.02, 0.33), (0.6, 0.33)], [(0.46, 0.7), (0.46, 0.0)]],
          [[(0.12, 1.0), (0.06, 0.45), (0.58, 0.45)], [(0.5, 1.0), (0.48, 0.0)]]],
    "5": [[[(0.56, 1.0), (0.1, 1.0), (0.06, 0.57)] + _arc(0.3, 0.31, 0.29, 0.31, 125, -150)]],
    "6": [[_arc(0.58, 0.32, 0.54, 0.66, 85, 180) + _arc(0.3, 0.27, 0.26, 0.27, 180, 540)]],
    "7": [[[(0.02, 1.0), (0.6, 1.0), (0.2, 0.0)]],
          [[(0.02, 0.92), (0.08, 1.0), (0.6, 1.0), (0.3, 0.45), (0.24, 0.0)]]],
    "8": [[_arc(0.3, 0.76, 0.22, 0.23, -90, 270) + _arc(0.3, 0.27, 0.28, 0.27, 90, 450)]],
    "9": [[_arc(0.3, 0.72, 0.27, 0.27, 0, 360), [(0.57, 0.72), (0.5, 0.0)]],
          [_arc(0.3, 0.72, 0.26, 0.26, 10, 370) + [(0.55, 0.0)]]],
}
NUM_SKELETON_VARIANTS = 2  # variants per digit; digits with one variant repeat it
# Share of images drawn from a pen skeleton rather than a font, per digit.
SKELETON_SHARE = torch.tensor([0.45, 0.8, 0.5, 0.45, 0.65, 0.45, 0.45, 0.5, 0.45, 0.45])


def _fonts_dir() -> str:
    import matplotlib

    return os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf")


def _render(path, transform, *, stroke_width: float | None = None) -> np.ndarray:
    """Anti-aliased coverage of `path` on a CANVAS x CANVAS grid, values in [0, 1]."""
    from matplotlib.backends.backend_agg import RendererAgg

    renderer = RendererAgg(CANVAS, CANVAS, 72)
    gc = renderer.new_gc()
    if stroke_width is None:  # a font outline: fill it
        gc.set_linewidth(0)
        renderer.draw_path(gc, path, transform, (1, 1, 1, 1))
    else:  # a pen skeleton: stroke it with round ends and joints
        gc.set_linewidth(stroke_width)
        gc.set_capstyle("round")
        gc.set_joinstyle("round")
        gc.set_foreground((1, 1, 1, 1))
        renderer.draw_path(gc, path, transform, None)
    gc.restore()
    return np.asarray(renderer.buffer_rgba())[..., 3].astype(np.float32) / 255.0


def _centring(vertices: np.ndarray):
    """Transform that scales the glyph to GLYPH_HEIGHT and centres its bounding box."""
    from matplotlib.transforms import Affine2D

    low, high = vertices.min(axis=0), vertices.max(axis=0)
    centre = (low + high) / 2
    scale = GLYPH_HEIGHT / max(high[1] - low[1], 1e-6)
    # Agg's y axis points down, the glyph's up; the flip happens in the renderer's transform.
    return Affine2D().translate(-centre[0], -centre[1]).scale(scale).translate(CANVAS / 2, CANVAS / 2)


@functools.lru_cache(maxsize=None)
def _font_glyph(font_file: str, digit: str) -> np.ndarray:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    path = TextPath((0, 0), digit, size=1, prop=FontProperties(fname=os.path.join(_fonts_dir(), font_file)))
    return _render(path, _centring(path.vertices))


@functools.lru_cache(maxsize=None)
def _skeleton_glyph(digit: str, variant: int) -> np.ndarray:
    from matplotlib.path import Path

    strokes = SKELETONS[digit][variant % len(SKELETONS[digit])]
    vertices, codes = [], []
    for stroke in strokes:
        vertices += stroke
        codes += [Path.MOVETO] + [Path.LINETO] * (len(stroke) - 1)
    path = Path(np.asarray(vertices, dtype=float), codes)
    return _render(path, _centring(path.vertices), stroke_width=2.4)


@functools.lru_cache(maxsize=1)
def _glyph_bank() -> tuple[Tensor, Tensor]:
    """All clean glyphs (STYLES * 10, 48, 48) indexed style * 10 + digit, and each style's weight."""
    glyphs, weight = [], []
    for font_file, font_weight in FONT_FILES:
        glyphs += [_font_glyph(font_file, str(d)) for d in range(10)]
        weight.append(font_weight)
    for variant in range(NUM_SKELETON_VARIANTS):
        glyphs += [_skeleton_glyph(str(d), variant) for d in range(10)]
        weight.append(0)
    return torch.from_numpy(np.stack(glyphs)), torch.tensor(weight)


def _derived_seed(seed: int, split: str) -> int:
    """A 63-bit seed from (seed, split): train and test never share a random stream."""
    digest = hashlib.sha256(f"gentut.synthetic_digits/{split}/{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _uniform(generator: torch.Generator, n: int, low: float, high: float) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


@functools.lru_cache(maxsize=1)
def _warp_features() -> Tensor:
    """Per canvas pixel: (x, y, 1) for the affine part and smooth cosine waves for the elastic
    part of the warp, (H * W, 3 + ELASTIC_WAVES), in grid_sample's normalised coordinates."""
    t = (torch.arange(CANVAS, dtype=torch.float32) + 0.5) / CANVAS * 2 - 1
    y, x = torch.meshgrid(t, t, indexing="ij")
    x, y = x.flatten(), y.flatten()
    waves = [
        torch.cos(math.pi * i * (x + 1) / 2) * torch.cos(math.pi * j * (y + 1) / 2)
        for i, j in ELASTIC_FREQUENCIES
    ]
    return torch.stack([x, y, torch.ones_like(x), *waves], dim=1)


# A smooth random displacement field is a random sum of low-frequency waves: the same effect as
# Simard et al.'s Gaussian-smoothed per-pixel noise (a Gaussian filter keeps the low
# frequencies), at the cost of one matrix product.
ELASTIC_FREQUENCIES = tuple((i, j) for i in range(4) for j in range(4) if (i, j) != (0, 0))
ELASTIC_WAVES = len(ELASTIC_FREQUENCIES)
ELASTIC_STRENGTH = 0.08  # in normalised units (the canvas spans 2): about 2 canvas pixels
WAVE_DAMPING = torch.tensor([float(i + j) for i, j in ELASTIC_FREQUENCIES])


def _bend(glyphs: Tensor, params: dict[str, Tensor]) -> Tensor:
    """Per-sample affine map + elastic field + stroke width + blur on the 48x48 canvas."""
    b = glyphs.shape[0]
    angle, shear = params["angle"], params["shear"]
    scale_x, scale_y = params["scale_x"], params["scale_y"]
    # Forward map (glyph -> image) = rotation @ shear @ scale; grid_sample needs its inverse
    # (image -> glyph). Normalised coordinates, y down.
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    shearing = torch.eye(2).repeat(b, 1, 1)
    shearing[:, 0, 1] = shear  # x += shear * y: a slant
    scaling = torch.diag_embed(torch.stack([scale_x, scale_y], -1))
    inverse = torch.linalg.inv(rotation @ shearing @ scaling)  # (B, 2, 2)
    # Sampling position of each pixel = inverse @ (x, y) + elastic displacement, as one product.
    coefficients = torch.cat(
        [inverse.transpose(1, 2), torch.zeros(b, 1, 2), params["field"]], dim=1
    )  # (B, 3 + ELASTIC_WAVES, 2)
    # One matrix product for the whole chunk (a plain GEMM is much faster than a batched one).
    features = _warp_features()  # (H * W, 3 + ELASTIC_WAVES)
    grid = features @ coefficients.permute(1, 0, 2).reshape(features.shape[1], b * 2)  # (H * W, B * 2)
    grid = grid.view(CANVAS, CANVAS, b, 2).permute(2, 0, 1, 3)  # (B, H, W, 2)
    x = F.grid_sample(glyphs.unsqueeze(1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # Stroke width: grey-scale dilation (a 3x3 max filter applied `radius` times). Erosion is
    # left out: it breaks the thin diagonals of bold fonts apart.
    radius = params["radius"].view(b, 1, 1, 1)
    thicker = _dilate(x)
    thickest = _dilate(thicker)
    x = torch.where(radius == 0, x, torch.where(radius == 1, thicker, thickest))
    # Mild blur (3x3 box), which also keeps the later ~1.7x downsampling from aliasing.
    return _box_blur(x)  # (B, 1, 48, 48)


def _dilate(x: Tensor) -> Tensor:
    """3x3 grey-scale dilation as two 1-D passes of shifted maxima (faster than max_pool2d on CPU)."""
    padded = F.pad(x, (1, 1, 0, 0))
    x = torch.maximum(torch.maximum(padded[..., :-2], padded[..., 1:-1]), padded[..., 2:])
    padded = F.pad(x, (0, 0, 1, 1))
    return torch.maximum(torch.maximum(padded[..., :-2, :], padded[..., 1:-1, :]), padded[..., 2:, :])


def _box_blur(x: Tensor) -> Tensor:
    """3x3 mean filter as two 1-D passes of shifted sums (zeros outside: the background)."""
    padded = F.pad(x, (1, 1, 0, 0))
    x = padded[..., :-2] + padded[..., 1:-1] + padded[..., 2:]
    padded = F.pad(x, (0, 0, 1, 1))
    return (padded[..., :-2, :] + padded[..., 1:-1, :] + padded[..., 2:, :]) / 9


def _mnist_normalise(x: Tensor) -> Tensor:
    """Fit each digit's bounding box into 20x20 (keeping aspect) and centre its mass in 28x28."""
    b = x.shape[0]
    flat = x.flatten(1)
    peak = flat.max(dim=1).values.clamp_min(1e-6)
    ink = x[:, 0] > 0.1 * peak[:, None, None]  # (B, H, W) bounding-box pixels
    positions = torch.arange(CANVAS)
    rows, cols = ink.any(dim=2), ink.any(dim=1)  # (B, H), (B, W)
    big = CANVAS + 1
    top = torch.where(rows, positions, big).min(dim=1).values
    bottom = torch.where(rows, positions, -1).max(dim=1).values
    left = torch.where(cols, positions, big).min(dim=1).values
    right = torch.where(cols, positions, -1).max(dim=1).values
    extent = torch.maximum(bottom - top, right - left).float() + 1  # longer side, in canvas pixels
    pixels_per_output = extent / BOX  # canvas pixels per output pixel
    mass = x[:, 0].sum(dim=(1, 2)).clamp_min(1e-6)
    centre_y = (x[:, 0].sum(dim=2) * positions).sum(dim=1) / mass
    centre_x = (x[:, 0].sum(dim=1) * positions).sum(dim=1) / mass
    # Output pixel u (centre of the image at 13.5) reads canvas pixel com + (u - 13.5) * s;
    # in grid_sample's normalised coordinates (align_corners=False) that is this affine map.
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = SIDE * pixels_per_output / CANVAS
    theta[:, 1, 1] = SIDE * pixels_per_output / CANVAS
    theta[:, 0, 2] = 2 * (centre_x + 0.5) / CANVAS - 1
    theta[:, 1, 2] = 2 * (centre_y + 0.5) / CANVAS - 1
    grid = F.affine_grid(theta, (b, 1, SIDE, SIDE), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _draw_params(generator: torch.Generator, labels: Tensor) -> dict[str, Tensor]:
    """Every random choice for the images, drawn up front so chunking cannot change the result."""
    n = len(labels)
    # Pen skeletons look most like hand-writing: about half the images use them, and most of
    # the ones and fours, whose font glyphs (serifed foot, closed top) are rare in MNIST.
    use_skeleton = torch.rand(n, generator=generator) < SKELETON_SHARE[labels]
    font_style = torch.randint(0, len(FONT_FILES), (n,), generator=generator)
    skeleton_style = len(FONT_FILES) + torch.randint(0, NUM_SKELETON_VARIANTS, (n,), generator=generator)
    style = torch.where(use_skeleton, skeleton_style, font_style)
    return {
        "style": style,
        "angle": torch.deg2rad(_uniform(generator, n, -15.0, 15.0)),
        "shear": _uniform(generator, n, -0.35, 0.2),  # negative leans right, as most writers do
        "scale_x": _uniform(generator, n, 0.55, 1.1),
        "scale_y": _uniform(generator, n, 0.9, 1.0),
        # wave amplitudes fall with frequency, as after Gaussian smoothing
        "field": ELASTIC_STRENGTH * torch.randn(n, ELASTIC_WAVES, 2, generator=generator) / WAVE_DAMPING[:, None],
        # decides the stroke width change, see _stroke_radius
        "radius_draw": torch.rand(n, generator=generator),
    }


def _stroke_radius(u: Tensor, weight: Tensor) -> Tensor:
    """Dilation radius (canvas pixels) from a uniform draw: thin styles thicken more, bold less."""
    thin = torch.ones_like(u, dtype=torch.long)  # hairlines need thickening, loops must stay open
    regular = torch.bucketize(u, torch.tensor([0.35, 0.9]))  # 0, 1 or 2
    bold = torch.zeros_like(regular)  # bold fonts are thick enough; thicker closes their loops
    return torch.where(weight < 0, thin, torch.where(weight > 0, bold, regular))


def make_synthetic_digits(n: int, *, seed: int = 0, split: str = "train") -> ImageData:
    """`n` hand-written-looking 28x28 digits with balanced labels, generated offline.

    The same (n, seed, split) gives bitwise the same images; "train" and "test" use different
    random streams. 60,000 images take about 5 s on two idle CPU cores.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    generator = torch.Generator().manual_seed(_derived_seed(seed, split))
    # Balanced labels: each digit n // 10 or n // 10 + 1 times, in random order.
    labels = (torch.arange(n) % 10)[torch.randperm(n, generator=generator)]
    params = _draw_params(generator, labels)
    bank, weight = _glyph_bank()
    style = params.pop("style")
    params["radius"] = _stroke_radius(params.pop("radius_draw"), weight[style])
    images = torch.empty(n, 1, SIDE, SIDE)
    with torch.no_grad():
        for start in range(0, n, CHUNK):
            part = slice(start, start + CHUNK)
            glyphs = bank[style[part] * 10 + labels[part]]  # (B, 48, 48)
            bent = _bend(glyphs, {k: v[part] for k, v in params.items()})
            small = _mnist_normalise(bent)  # (B, 1, 28, 28)
            # Like MNIST's 8-bit scans: strokes saturate at 1 with soft edges, background is 0.
            # The 20th brightest pixel stands for the stroke core (a plain maximum would let a
            # spot where two strokes overlap make the whole digit dim).
            core = small.flatten(1).topk(20, dim=1).values[:, -1].clamp_min(1e-3)
            small = (small * (1.25 / core)[:, None, None, None]).clamp_(0, 1)
            images[part] = torch.round(small * 255) / 255
    return ImageData(
        images=images,
        labels=labels.to(torch.int64),
        name="synthetic-digits",
        source=f"offline synthetic digits (generated, seed {seed}, split {split!r})",
        class_names=tuple(str(d) for d in range(10)),
    )
