"""The book's figures: image grids, loss curves, latent scatters, ROC curves.

Every function draws with matplotlib, titles the figure, labels its axes and returns the
`matplotlib.figure.Figure`. None calls ``plt.show()``: in a notebook a returned figure displays
when it is the cell's last expression (or with ``display(fig)``); in a script, save it with
``fig.savefig(path)``. Functions that take ``ax=`` draw into an existing axes (for side-by-side
panels) and return that axes' figure.

Sizes are fixed here so every image grid in the book has one width, and every curve one size.
"""
from __future__ import annotations

import math
import re
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

__all__ = [
    "image_grid",
    "show_reconstructions",
    "plot_losses",
    "plot_latent_scatter",
    "interpolation_strip",
    "plot_curve",
    "plot_roc",
    "plot_samples_2d",
    "plot_density_and_samples",
]

GRID_WIDTH = 6.0  # inches: every image grid in the book has this width
CURVE_FIGSIZE = (6.0, 4.0)  # loss curves, trade-off curves, ROC curves
SCATTER_FIGSIZE = (6.0, 5.0)  # latent scatters (extra room for the legend)
PLANE_FIGSIZE = (5.5, 5.0)  # 2-D toy distributions: equal axes
SEPARATOR_VALUE = 0.5  # mid grey: visible between black-background and white-background images
SEPARATOR_PIXELS = 1
CLASS_COLORMAP = "tab10"


# --- images --------------------------------------------------------------------------------------


def _images_to_numpy(images: Any, name: str = "images") -> np.ndarray:
    """(N, C, H, W) or (N, H, W) tensor/array in [0, 1] -> float array (N, C, H, W)."""
    if isinstance(images, Tensor):
        images = images.detach().float().cpu().numpy()
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 3:
        array = array[:, None]  # (N, H, W) -> (N, 1, H, W)
    if array.ndim != 4 or array.shape[1] not in (1, 3):
        raise ValueError(
            f"{name} must have shape (N, C, H, W) with C = 1 or 3 (or (N, H, W)), "
            f"got {array.shape}"
        )
    if len(array) == 0:
        raise ValueError(f"{name} is empty; nothing to show")
    low, high = float(np.nanmin(array)), float(np.nanmax(array))
    if low < -1e-3 or high > 1 + 1e-3:
        raise ValueError(
            f"{name} must hold values in [0, 1], got range [{low:.3g}, {high:.3g}]; "
            "decoder outputs are logits, pass torch.sigmoid(logits) or model.decode(z)"
        )
    return np.clip(array, 0.0, 1.0)


def _mosaic(array: np.ndarray, nrow: int) -> np.ndarray:
    """Tile (N, C, H, W) into one (rows*H + seps, nrow*W + seps, C) image, separators between."""
    n, c, h, w = array.shape
    rows = math.ceil(n / nrow)
    p = SEPARATOR_PIXELS
    canvas = np.full((rows * (h + p) - p, nrow * (w + p) - p, c), SEPARATOR_VALUE, np.float32)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = r * (h + p), col * (w + p)
        canvas[top : top + h, left : left + w] = array[i].transpose(1, 2, 0)
    return canvas


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _draw_grid(ax: Axes, array: np.ndarray, nrow: int) -> None:
    canvas = _mosaic(array, nrow)
    if canvas.shape[2] == 1:
        ax.imshow(canvas[:, :, 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(canvas, interpolation="nearest")
    ax.set_xticks([])  # ticks off but the axes kept, so row labels (set_ylabel) still show
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _grid_figsize(rows: int, cols: int, h: int, w: int, extra: float = 0.5) -> tuple[float, float]:
    return GRID_WIDTH, GRID_WIDTH * (rows * h) / (cols * w) + extra


def image_grid(
    images: Any, *, nrow: int | None = None, ax: Axes | None = None, title: str | None = None
) -> Figure:
    """Show images (N, C, H, W) in [0, 1] as one grid, grey scale for one channel.

    Args:
        images: tensor or array (N, C, H, W) (or (N, H, W)) with values in [0, 1].
        nrow: images per row (as in torchvision's ``make_grid``); default about sqrt(N).
        ax: draw into this axes instead of a new figure.
        title: figure title; default ``"N images"``.
    """
    array = _images_to_numpy(images)
    n, _, h, w = array.shape
    if nrow is None:
        nrow = math.ceil(math.sqrt(n))
    if isinstance(nrow, bool) or not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"nrow must be a positive int, got {nrow!r}")
    nrow = min(nrow, n)
    rows = math.ceil(n / nrow)
    fig, ax = _new_axes(ax, _grid_figsize(rows, nrow, h, w))
    _draw_grid(ax, array, nrow)
    ax.set_title(title if title is not None else f"{n} images")
    return fig


def show_reconstructions(
    originals: Any, reconstructions: Any, *, n: int = 10, title: str = "Reconstructions"
) -> Figure:
    """Two rows: the first `n` originals above their reconstructions."""
    originals_np = _images_to_numpy(originals, "originals")
    reconstructions_np = _images_to_numpy(reconstructions, "reconstructions")
    if originals_np.shape != reconstructions_np.shape:
        raise ValueError(
            f"originals and reconstructions must have the same shape, got "
            f"{originals_np.shape} and {reconstructions_np.shape}"
        )
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    n = min(n, len(originals_np))
    _, _, h, w = originals_np.shape
    fig, axes = plt.subplots(
        2, 1, figsize=_grid_figsize(2, n, h, w, extra=0.7), layout="constrained"
    )
    for ax, array, label in zip(
        axes, (originals_np[:n], reconstructions_np[:n]), ("original", "reconstruction")
    ):
        _draw_grid(ax, array, n)
        # Horizontal, so a long label fits beside a row only one image tall.
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
    fig.suptitle(title)
    return fig


def interpolation_strip(
    images: Any,
    *,
    title: str = "Interpolation in latent space",
    row_labels: Sequence[str] | None = None,
) -> Figure:
    """Rows of images decoded along paths between latent codes, left to right.

    Args:
        images: one row (K, C, H, W) or several rows (R, K, C, H, W), values in [0, 1].
        title: figure title.
        row_labels: optional label for each row (e.g. ``"3 -> 8"``).
    """
    if isinstance(images, Tensor):
        images = images.detach().float().cpu().numpy()
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 4:
        array = array[None]  # one row: (1, K, C, H, W)
    if array.ndim != 5:
        raise ValueError(
            f"images must be (K, C, H, W) for one strip or (R, K, C, H, W) for R strips, "
            f"got shape {array.shape}"
        )
    rows, steps = array.shape[:2]
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(f"row_labels must have {rows} entries, got {len(row_labels)}")
    flat = _images_to_numpy(array.reshape(rows * steps, *array.shape[2:]))
    _, _, h, w = flat.shape
    fig, ax = _new_axes(None, _grid_figsize(rows, steps, h, w, extra=0.8))
    _draw_grid(ax, flat, steps)
    ax.set_title(title)
    ax.set_xlabel("interpolation step (start code on the left, end code on the right)")
    if row_labels is not None:
        p = SEPARATOR_PIXELS
        ax.set_yticks([r * (h + p) + h / 2 for r in range(rows)], labels=list(row_labels))
        ax.tick_params(axis="y", length=0)
    return fig


# --- curves --------------------------------------------------------------------------------------


def _series(history: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(history, Mapping):
        steps, values = history[name]
    else:
        steps, values = history.series(name)
    steps_np = np.asarray([float(s) for s in steps])
    values_np = np.asarray([float(v) for v in values])
    if steps_np.shape != values_np.shape:
        raise ValueError(
            f"series {name!r} has {len(steps_np)} steps but {len(values_np)} values"
        )
    return steps_np, values_np


def plot_losses(
    history: Any,
    names: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    logy: bool = False,
    title: str = "Training losses",
    xlabel: str = "training step",
    ylabel: str = "loss (nats per image)",
    labels: Mapping[str, str] | None = None,
) -> Figure:
    """Plot logged values against the training step, one line per name.

    Args:
        history: a `gentut.trainer.History` (anything with ``.names`` and
            ``.series(name) -> (steps, values)``) or a dict ``name -> (steps, values)``.
        names: which series to plot; default all.
        ax: draw into this axes instead of a new figure.
        logy: logarithmic y axis (useful when the loss falls by orders of magnitude).
        labels: legend text for some or all names, e.g. ``{"d_real": "D(x), real images"}``;
            a name without one is shown as it is logged.
    """
    if isinstance(history, Mapping):
        available = list(history.keys())
    elif hasattr(history, "series") and hasattr(history, "names"):
        available = list(history.names)
    else:
        raise TypeError(
            "history must have .names and .series(name), or be a dict name -> (steps, values); "
            f"got {type(history).__name__}"
        )
    if names is None:
        names = available
    elif isinstance(names, str):
        names = [names]
    missing = [name for name in names if name not in available]
    if missing:
        raise ValueError(f"no series named {missing}; available: {available}")
    if not names:
        raise ValueError("history holds no series to plot")
    labels = dict(labels or {})
    unknown = sorted(set(labels) - set(names))
    if unknown:
        raise ValueError(f"labels given for series that are not plotted: {unknown}; plotted: {list(names)}")
    fig, ax = _new_axes(ax, CURVE_FIGSIZE)
    for name in names:
        steps, values = _series(history, name)
        ax.plot(steps, values, label=labels.get(name, name), marker="o" if len(steps) < 20 else None, markersize=3)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if len(names) > 1:
        ax.legend()
    return fig


def plot_curve(
    x: Any,
    y: Any,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    ax: Axes | None = None,
    logx: bool = False,
    marker: str = "o",
    label: str | None = None,
) -> Figure:
    """One measured curve, e.g. reconstruction error against latent size."""
    x_np = np.asarray(x.detach().cpu() if isinstance(x, Tensor) else x, dtype=np.float64)
    y_np = np.asarray(y.detach().cpu() if isinstance(y, Tensor) else y, dtype=np.float64)
    if x_np.ndim != 1 or x_np.shape != y_np.shape:
        raise ValueError(f"x and y must be 1-D of equal length, got {x_np.shape} and {y_np.shape}")
    fig, ax = _new_axes(ax, CURVE_FIGSIZE)
    ax.plot(x_np, y_np, marker=marker, label=label)
    if logx:
        ax.set_xscale("log", base=2)  # latent sizes are usually powers of two
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if label is not None:
        ax.legend()
    return fig


def plot_roc(
    fpr: Any,
    tpr: Any,
    auc: float,
    *,
    ax: Axes | None = None,
    title: str = "ROC curve",
    label: str | None = None,
) -> Figure:
    """ROC curve with its AUC in the legend and the chance diagonal for reference."""
    fpr_np, tpr_np = np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)
    if fpr_np.ndim != 1 or fpr_np.shape != tpr_np.shape:
        raise ValueError(
            f"fpr and tpr must be 1-D of equal length, got {fpr_np.shape} and {tpr_np.shape}"
        )
    fig, ax = _new_axes(ax, CURVE_FIGSIZE)
    prefix = f"{label}, " if label else ""
    ax.plot(fpr_np, tpr_np, label=f"{prefix}AUC = {auc:.3f}")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance (AUC = 0.5)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right")
    ax.grid(True, alpha=0.3)
    return fig


# --- latent spaces -------------------------------------------------------------------------------


def plot_latent_scatter(
    z: Any,
    labels: Any = None,
    *,
    ax: Axes | None = None,
    title: str = "Latent codes",
    class_names: Sequence[str] | None = None,
    xlabel: str = "$z_1$",
    ylabel: str = "$z_2$",
) -> Figure:
    """Scatter 2-D codes (N, 2), coloured by integer label (tab10) with a legend.

    More than ten distinct labels get a colour bar instead of a legend.
    """
    z_np = np.asarray(z.detach().float().cpu() if isinstance(z, Tensor) else z, dtype=np.float64)
    if z_np.ndim != 2 or z_np.shape[1] != 2:
        raise ValueError(
            f"z must have shape (N, 2) (a 2-D latent space), got {z_np.shape}; "
            "project higher-dimensional codes to 2-D first"
        )
    fig, ax = _new_axes(ax, SCATTER_FIGSIZE)
    style = dict(s=4, alpha=0.6, linewidths=0)
    if labels is None:
        ax.scatter(z_np[:, 0], z_np[:, 1], color="C0", **style)
    else:
        labels_np = np.asarray(labels.detach().cpu() if isinstance(labels, Tensor) else labels)
        if labels_np.shape != (len(z_np),):
            raise ValueError(
                f"labels must have shape ({len(z_np)},), one per code, got {labels_np.shape}"
            )
        classes = np.unique(labels_np)
        if len(classes) <= 10:
            cmap = plt.get_cmap(CLASS_COLORMAP)
            for k, label in enumerate(classes):
                index = int(label) if np.issubdtype(classes.dtype, np.integer) else k
                name = str(label)
                if class_names is not None and np.issubdtype(classes.dtype, np.integer):
                    name = class_names[int(label)]
                chosen = labels_np == label
                ax.scatter(
                    z_np[chosen, 0], z_np[chosen, 1], color=cmap(index % 10), label=name, **style
                )
            ax.legend(
                title="label", markerscale=4, loc="center left", bbox_to_anchor=(1.0, 0.5),
                frameon=False,
            )
        else:
            points = ax.scatter(z_np[:, 0], z_np[:, 1], c=labels_np, cmap="viridis", **style)
            fig.colorbar(points, ax=ax, label="label")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


# --- 2-D distributions ---------------------------------------------------------------------------


def _points_2d(points: Any, name: str) -> np.ndarray:
    array = np.asarray(points.detach().cpu() if isinstance(points, Tensor) else points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2), got {array.shape}")
    return array


def plot_samples_2d(
    samples: Any,
    *,
    ax: Axes | None = None,
    title: str = "Samples",
    bins: int | None = None,
    data: Any = None,
) -> Figure:
    """2-D samples as a scatter, or as a 2-D histogram when `bins` is given (the only density
    estimate an implicit model allows); `data` (N, 2) is drawn underneath for comparison."""
    points = _points_2d(samples, "samples")
    fig, ax = _new_axes(ax, PLANE_FIGSIZE)
    if data is not None:
        reference = _points_2d(data, "data")
        ax.scatter(reference[:, 0], reference[:, 1], s=3, color="grey", alpha=0.4, label="data")
    if bins is None:
        ax.scatter(points[:, 0], points[:, 1], s=3, color="C1", alpha=0.6, label="samples")
        if data is not None:
            ax.legend(loc="upper right", markerscale=4)
    else:
        counts = ax.hist2d(points[:, 0], points[:, 1], bins=bins, cmap="Greys")[3]
        fig.colorbar(counts, ax=ax, label="samples per bin")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title)
    return fig


def plot_density_and_samples(
    log_density: Any,
    *,
    data: Any,
    samples: Any,
    ax: Axes | None = None,
    title: str = "Model density, data and samples",
    resolution: int = 200,
) -> Figure:
    """Filled contours of an explicit model's log-density with held-out data and model samples.

    `log_density` maps an array of points (M, 2) to their log-densities (M,), e.g. a fitted
    scikit-learn mixture's ``score_samples``.
    """
    data_np, samples_np = _points_2d(data, "data"), _points_2d(samples, "samples")
    both = np.concatenate([data_np, samples_np])
    low, high = both.min(axis=0), both.max(axis=0)
    margin = 0.15 * (high - low)
    x1 = np.linspace(low[0] - margin[0], high[0] + margin[0], resolution)
    x2 = np.linspace(low[1] - margin[1], high[1] + margin[1], resolution)
    grid = np.stack(np.meshgrid(x1, x2), axis=-1).reshape(-1, 2)  # (R*R, 2)
    values = np.asarray(log_density(grid), dtype=np.float64).reshape(resolution, resolution)
    fig, ax = _new_axes(ax, PLANE_FIGSIZE)
    # Clip the far tails: a log-density of -1e4 and one of -50 are both "no mass" to the eye.
    levels = np.linspace(max(values.min(), values.max() - 30.0), values.max(), 16)
    filled = ax.contourf(x1, x2, values.clip(levels[0]), levels=levels, cmap="Blues")
    fig.colorbar(filled, ax=ax, label="model log-density (nats)")
    ax.scatter(data_np[:, 0], data_np[:, 1], s=2, color="black", alpha=0.5, label="held-out data")
    ax.scatter(samples_np[:, 0], samples_np[:, 1], s=2, color="C1", alpha=0.6, label="model samples")
    ax.legend(loc="upper right", markerscale=5)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title)
    return fig


# --- GAN discriminators on the plane -------------------------------------------------------------
# The 2-D GAN lab draws what the discriminator believes: D(x) on a grid under the data and the
# generator's samples. A frame of the training animation is the same picture, drawn small.

__all__ += ["decision_surface", "plot_decision_surface", "animate_2d_training"]

ANIMATION_FIGSIZE = (4.5, 4.5)  # inches
# 4.5 in x 72 dpi = 324 x 324 pixels. As JPEG that is about 20 kB per frame in the HTML (base64),
# so a 50-frame animation adds about 1 MB to its page; PNG frames of the same picture are ~70 kB,
# since the smooth surface and the scattered points compress badly without loss.
ANIMATION_DPI = 72
FRAME_FORMAT = "jpeg"
SURFACE_KINDS = ("probability", "score")


def _check_limits(limits: Any) -> tuple[float, float, float, float]:
    try:
        x_min, x_max, y_min, y_max = (float(v) for v in limits)
    except (TypeError, ValueError):
        raise ValueError(f"limits must be (xmin, xmax, ymin, ymax), got {limits!r}") from None
    if not (x_min < x_max and y_min < y_max):
        raise ValueError(f"limits must have xmin < xmax and ymin < ymax, got {limits!r}")
    return x_min, x_max, y_min, y_max


def _limits_around(*point_sets: np.ndarray, margin: float = 0.15) -> tuple[float, float, float, float]:
    both = np.concatenate(point_sets)
    low, high = both.min(axis=0), both.max(axis=0)
    pad = margin * np.maximum(high - low, 1e-3)  # a single point still gets a window
    return low[0] - pad[0], high[0] + pad[0], low[1] - pad[1], high[1] + pad[1]


def decision_surface(
    discriminate: Any,
    limits: Any,
    *,
    resolution: int = 150,
    kind: str = "probability",
) -> np.ndarray:
    """A discriminator's view of the plane: an array (resolution, resolution), row i at
    ``y = linspace(ymin, ymax)[i]``, column j at ``x = linspace(xmin, xmax)[j]``.

    Args:
        discriminate: maps a CPU float32 tensor of points (M, 2) to logits (or critic scores)
            (M,) or (M, 1), e.g. ``gan.discriminate`` (wrap it to move points to another
            device). Called once, under ``torch.no_grad()``. A packed discriminator
            (packing > 1) judges groups of points, so it has no surface over single points.
        limits: (xmin, xmax, ymin, ymax).
        resolution: grid points per axis.
        kind: ``"probability"``: D(x) = sigmoid(logit) in [0, 1]; ``"score"``: the raw output
            (a WGAN critic's score).
    """
    import torch  # local: plots needs torch only for this function and Tensor checks

    x_min, x_max, y_min, y_max = _check_limits(limits)
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    if kind not in SURFACE_KINDS:
        raise ValueError(f"kind must be one of {SURFACE_KINDS}, got {kind!r}")
    x1 = np.linspace(x_min, x_max, resolution)
    x2 = np.linspace(y_min, y_max, resolution)
    grid = np.stack(np.meshgrid(x1, x2), axis=-1).reshape(-1, 2)  # (R*R, 2), x fastest
    with torch.no_grad():
        out = discriminate(torch.from_numpy(grid).float())
    values = np.asarray(out.detach().float().cpu() if isinstance(out, Tensor) else out, np.float64)
    if values.size != resolution * resolution:
        raise ValueError(
            f"discriminate returned {values.size} values for {resolution * resolution} points; "
            f"expected one logit per point, shape (M,) or (M, 1)"
        )
    values = values.reshape(resolution, resolution)  # (R, R): rows follow y, columns x
    if kind == "probability":
        values = 0.5 * (1.0 + np.tanh(0.5 * values))  # sigmoid, without overflow in exp
    return values


def _surface_style(kind: str) -> tuple[str, str]:
    if kind == "probability":
        return "Blues", "D(x): probability of 'real'"
    return "Blues", "critic score C(x)"


def plot_decision_surface(
    discriminate: Any,
    *,
    data: Any,
    samples: Any,
    ax: Axes | None = None,
    title: str = "Discriminator, data and generator samples",
    resolution: int = 150,
    limits: Any = None,
    kind: str = "probability",
) -> Figure:
    """Filled contours of a discriminator over the plane, with data and generator samples on top.

    Darker blue means "real" to the discriminator. With ``kind="probability"`` the colour scale
    is D(x) from 0 to 1; an ideal discriminator against a perfect generator is 1/2 everywhere.
    With ``kind="score"`` it is a WGAN critic's raw score, whose level is arbitrary: only
    differences between places matter.

    Args:
        discriminate: points (M, 2) -> logits (M,); see `decision_surface`.
        data, samples: (N, 2) points drawn in black and orange.
        limits: (xmin, xmax, ymin, ymax); default: around the data and samples.
        resolution, kind: see `decision_surface`.
    """
    data_np, samples_np = _points_2d(data, "data"), _points_2d(samples, "samples")
    limits = _limits_around(data_np, samples_np) if limits is None else _check_limits(limits)
    values = decision_surface(discriminate, limits, resolution=resolution, kind=kind)
    x1 = np.linspace(limits[0], limits[1], resolution)
    x2 = np.linspace(limits[2], limits[3], resolution)
    fig, ax = _new_axes(ax, PLANE_FIGSIZE)
    cmap, label = _surface_style(kind)
    if kind == "probability":
        levels = np.linspace(0.0, 1.0, 11)
    else:
        low, high = values.min(), values.max()
        levels = np.linspace(low, high if high > low else low + 1e-6, 16)
    filled = ax.contourf(x1, x2, values, levels=levels, cmap=cmap, alpha=0.85)
    fig.colorbar(filled, ax=ax, label=label)
    ax.scatter(data_np[:, 0], data_np[:, 1], s=3, color="black", alpha=0.5, label="data")
    ax.scatter(samples_np[:, 0], samples_np[:, 1], s=3, color="C1", alpha=0.7, label="generator samples")
    ax.legend(loc="upper right", markerscale=4)
    ax.set_xlim(limits[0], limits[1])
    ax.set_ylim(limits[2], limits[3])
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title)
    return fig


_FRAME_KEYS = ("step", "samples", "surface", "limits", "data")


def _check_frames(frames: Any) -> list[dict[str, Any]]:
    if not isinstance(frames, Sequence) or isinstance(frames, (str, bytes)) or len(frames) == 0:
        raise ValueError(f"frames must be a non-empty list of dicts, got {type(frames).__name__}")
    checked = []
    for i, frame in enumerate(frames):
        if not isinstance(frame, Mapping):
            raise TypeError(f"frames[{i}] must be a dict, got {type(frame).__name__}")
        missing = [key for key in _FRAME_KEYS if key not in frame]
        if missing:
            raise ValueError(f"frames[{i}] is missing {missing}; each frame needs keys {_FRAME_KEYS}")
        surface = frame["surface"]
        if surface is not None:
            surface = np.asarray(surface, dtype=np.float64)
            if surface.ndim != 2:
                raise ValueError(
                    f"frames[{i}]['surface'] must be a 2-D array (R, R) or None, got shape {surface.shape}"
                )
        checked.append({
            "step": frame["step"],
            "samples": _points_2d(frame["samples"], f"frames[{i}]['samples']"),
            "data": _points_2d(frame["data"], f"frames[{i}]['data']"),
            "surface": surface,
            "limits": _check_limits(frame["limits"]),
        })
    return checked


def animate_2d_training(
    frames: Sequence[Mapping[str, Any]],
    *,
    title: str = "GAN training",
    interval: int = 200,
    kind: str = "probability",
) -> str:
    """An HTML/JavaScript animation of a 2-D GAN's training, one frame per snapshot.

    Returns ``FuncAnimation(...).to_jshtml(default_mode="loop")``: image frames embedded in HTML
    with play controls, so it plays in a notebook (``IPython.display.HTML(html)``) and in the
    static HTML book with no extra software (no ffmpeg). Frames are small JPEGs, 4.5 x 4.5 inches
    at 72 dpi (324 x 324 pixels, about 20 kB each), so 50 frames cost about 1 MB of HTML.
    The figure is closed after rendering, so no static copy of the last frame is displayed.

    Args:
        frames: dicts with keys ``"step"`` (int, shown in the title), ``"samples"`` (N, 2)
            generator samples, ``"surface"`` (R, R) discriminator values from
            `decision_surface` over ``"limits"`` or None, ``"limits"`` (xmin, xmax, ymin, ymax)
            and ``"data"`` (M, 2) real points.
        title: shown above each frame, followed by the step.
        interval: milliseconds between frames.
        kind: how to colour surfaces: ``"probability"`` on a fixed [0, 1] scale, ``"score"``
            (critic scores, whose level drifts) scaled per frame to its own range.
    """
    from matplotlib import animation  # imported on use: only this function needs it

    checked = _check_frames(frames)
    if kind not in SURFACE_KINDS:
        raise ValueError(f"kind must be one of {SURFACE_KINDS}, got {kind!r}")
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise ValueError(f"interval must be a positive int (milliseconds), got {interval!r}")
    cmap, _ = _surface_style(kind)
    fig, ax = plt.subplots(figsize=ANIMATION_FIGSIZE, dpi=ANIMATION_DPI, layout="constrained")

    def draw(index: int) -> list:
        frame = checked[index]
        x_min, x_max, y_min, y_max = frame["limits"]
        ax.clear()  # redraw from scratch: simple, and cheap at this size
        surface = frame["surface"]
        if surface is not None:
            low, high = (0.0, 1.0) if kind == "probability" else (surface.min(), surface.max())
            ax.imshow(
                surface, origin="lower", extent=(x_min, x_max, y_min, y_max), cmap=cmap,
                vmin=low, vmax=high, alpha=0.85, interpolation="bilinear", aspect="auto",
            )
        data, samples = frame["data"], frame["samples"]
        ax.scatter(data[:, 0], data[:, 1], s=2, color="black", alpha=0.4, linewidths=0)
        ax.scatter(samples[:, 0], samples[:, 1], s=3, color="C1", alpha=0.8, linewidths=0)
        ax.set_xlim(x_min, x_max)
        ax.set_ylim(y_min, y_max)
        ax.set_aspect("equal")
        ax.set_title(f"{title}, step {frame['step']}")
        ax.set_xticks([])
        ax.set_yticks([])
        return []

    try:
        movie = animation.FuncAnimation(
            fig, draw, frames=len(checked), interval=interval, blit=False
        )
        # The frames' size must not depend on a notebook's savefig settings.
        with plt.rc_context(
            {"savefig.dpi": ANIMATION_DPI, "savefig.bbox": None, "animation.frame_format": FRAME_FORMAT}
        ):
            html = movie.to_jshtml(default_mode="loop")
    finally:
        plt.close(fig)
    alt = f"Animation, {title}: generator samples (orange) over the data (black) at each snapshot"
    return _offline_narrow_controls(html, alt=alt)


# matplotlib's player draws its buttons with Font Awesome icons from a CDN (an external request
# on every page, and empty buttons offline) and gives its slider a fixed 374 px, wider than a
# phone's text column. The same buttons as plain characters, and a slider that fits its column
# (the selector outranks the template's own `input[type=range].anim-slider`, which comes later).
_ICON_TEXT = {
    "fa-minus": "\u2212", "fa-plus": "+",
    "fa-fast-backward": "|\u25c0\u25c0", "fa-step-backward": "|\u25c0",
    "fa-play fa-flip-horizontal": "\u25c0", "fa-pause": "\u275a\u275a", "fa-play": "\u25b6",
    "fa-step-forward": "\u25b6|", "fa-fast-forward": "\u25b6\u25b6|",
}
_NARROW_CSS = """<style>
.animation { max-width: 100%; }
.animation img { max-width: 100%; height: auto; }
.animation input[type=range].anim-slider { width: 100%; max-width: 374px; }
.anim-buttons { display: flex; flex-wrap: wrap; justify-content: center; }
</style>
"""


def _offline_narrow_controls(html: str, alt: str = "") -> str:
    html = re.sub(r"<link[^>]*font-awesome[^>]*>\s*", "", html)

    def text_for(match: re.Match) -> str:
        icon = match.group(1).removeprefix("fa ")
        if icon not in _ICON_TEXT:
            raise RuntimeError(f"matplotlib's animation template has an icon gentut does not know: {icon!r}")
        return _ICON_TEXT[icon]

    html = re.sub(r'<i class="(fa [^"]+)"></i>', text_for, html)
    if "font-awesome" in html or 'class="fa ' in html:
        raise RuntimeError("matplotlib's animation template changed: it still refers to Font Awesome")
    # The frame's <img> has no alt text in the template; a screen reader would read nothing.
    alt = alt.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    html = re.sub(r'<img id="(_anim_img[^"]*)"', lambda m: f'<img id="{m.group(1)}" alt="{alt}"', html)
    return _NARROW_CSS + html
