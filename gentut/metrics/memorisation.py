"""Does a generator copy its training data? Nearest neighbours and the data-copying test.

Looking at a generated image beside its nearest training image shows copying when it is blatant.
The data-copying test of Meehan, Chaudhuri and Dasgupta (2020) turns the idea into a number. Take
the training set T, held-out real points P (never trained on) and generated points Q. For every
point, measure the distance to its nearest training point. A model that generalises produces
points no closer to T than fresh real data are; a model that copies produces points that are
closer. The Mann-Whitney U statistic compares the two sets of distances without assuming their
shape, and its z-score is about N(0, 1) when they come from the same distribution.

Copying can be local (one class memorised, the rest not), so the test is run inside cells: the
space is cut into k cells by k-means on the training points, the z-score is computed in every cell
from the distances to the nearest training point *of that cell*, and the cells' z-scores are
averaged with the share of held-out points in each as weights. Cells with too few generated
points are left out (their z-score would be noise). The result, C_T:

* C_T << 0 (below about -3): generated points sit closer to the training data than real
  held-out points do: data copying;
* C_T near 0: no evidence of copying;
* C_T >> 0: generated points are further from the training data than real ones: the model
  underfits (typical of blurry or noisy samples).

The distances can be taken in pixel space or in any features (the book's classifier features,
say); the test only needs points. Like every test it answers "is there evidence of copying at this
sample size", not "is the model private": a model can leak a few training images and still pass.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["nearest_neighbours", "mann_whitney_z", "DataCopying", "data_copying"]

# Rows of a distance block: (rows, N) float32 stays near 128 MB.
BLOCK_ELEMENTS = 2**25
# A cell enters C_T only with at least this many generated points: U's normal approximation
# needs a few points on each side, and the authors also leave out cells Q barely reaches.
MIN_GENERATED_PER_CELL = 20


def _points(name: str, points: object) -> Tensor:
    if not isinstance(points, (Tensor, np.ndarray)):
        raise TypeError(f"{name} must be a tensor or array of points (N, D) or images (N, C, H, W), "
                        f"got {type(points).__name__}")
    points = torch.as_tensor(points).detach().cpu()
    if points.ndim < 2 or len(points) == 0:
        raise ValueError(f"{name} must be a non-empty batch (N, D) or (N, C, H, W), got shape {tuple(points.shape)}")
    points = points.flatten(1).to(torch.float32)
    if not torch.isfinite(points).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return points


def nearest_neighbours(queries: Tensor, references: Tensor) -> tuple[Tensor, Tensor]:
    """Euclidean distance from each query to its nearest reference, and that reference's index.

    Images are flattened, so this works in pixel space as well as on feature vectors. Computed
    in blocks of rows, so 2,000 queries against 60,000 references of 784 pixels fit in memory.

    Returns:
        (distances (N,), indices (N,)), both on the CPU.
    """
    queries, references = _points("queries", queries), _points("references", references)
    if queries.shape[1] != references.shape[1]:
        raise ValueError(f"queries have {queries.shape[1]} numbers per point but references have "
                         f"{references.shape[1]}")
    rows = max(1, BLOCK_ELEMENTS // len(references))
    distances, indices = [], []
    for start in range(0, len(queries), rows):
        block = torch.cdist(queries[start : start + rows], references)  # (rows, M)
        nearest = block.min(dim=1)
        distances.append(nearest.values)
        indices.append(nearest.indices)
    return torch.cat(distances).clamp_min(0.0), torch.cat(indices)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..N of `values`, ties sharing the mean of the ranks they span."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def mann_whitney_z(generated: Tensor | np.ndarray, held_out: Tensor | np.ndarray) -> float:
    """z-score of the Mann-Whitney U statistic of `generated` against `held_out` distances.

    U counts the pairs (g, h) with g > h, ties counted one half; under the null hypothesis that
    both come from one continuous distribution its mean is m n / 2 and its variance
    m n (m + n + 1) / 12 (Mann and Whitney 1947), so z = (U - m n / 2) / sqrt(m n (m + n + 1) / 12)
    is about N(0, 1). Negative when the generated distances are the smaller ones.
    """
    g = np.asarray(generated, dtype=np.float64).ravel()
    h = np.asarray(held_out, dtype=np.float64).ravel()
    m, n = len(g), len(h)
    if m == 0 or n == 0:
        raise ValueError(f"both sets need at least one value, got {m} generated and {n} held-out")
    ranks = _average_ranks(np.concatenate([g, h]))
    u = ranks[:m].sum() - m * (m + 1) / 2
    return float((u - m * n / 2) / math.sqrt(m * n * (m + n + 1) / 12))


@dataclass(frozen=True)
class DataCopying:
    """The result of `data_copying`.

    Attributes:
        statistic: C_T, the held-out-weighted mean of the kept cells' z-scores.
        cell_z: z-score of every cell (NaN where a cell was left out).
        held_out_share: share of the held-out points in each cell.
        generated_share: share of the generated points in each cell.
        kept: which cells entered C_T (at least `min_generated` generated points).
    """

    statistic: float
    cell_z: np.ndarray
    held_out_share: np.ndarray
    generated_share: np.ndarray
    kept: np.ndarray

    def __str__(self) -> str:
        return (f"C_T = {self.statistic:.2f} over {int(self.kept.sum())} of {len(self.kept)} cells "
                f"({self.generated_share[self.kept].sum():.0%} of the generated points)")


def data_copying(
    train: Tensor,
    held_out: Tensor,
    generated: Tensor,
    *,
    cells: int = 10,
    min_generated: int = MIN_GENERATED_PER_CELL,
    seed: int = 0,
) -> DataCopying:
    """The data-copying test C_T of Meehan, Chaudhuri and Dasgupta (2020); see the module docstring.

    Args:
        train: the points the model was trained on, (N, D) or images (N, C, H, W).
        held_out: real points the model never saw, from the same distribution.
        generated: the model's samples.
        cells: number of k-means cells (fitted on `train`); every cell must receive some
            held-out points, so use fewer cells for small held-out sets.
        min_generated: a cell enters C_T only with at least this many generated points.
        seed: seed of k-means.
    """
    from sklearn.cluster import KMeans  # imported here: scikit-learn is slow to import

    train, held_out, generated = _points("train", train), _points("held_out", held_out), _points("generated", generated)
    widths = {name: p.shape[1] for name, p in (("train", train), ("held_out", held_out), ("generated", generated))}
    if len(set(widths.values())) != 1:
        raise ValueError(f"the three sets must have points of one size, got {widths}")
    if isinstance(cells, bool) or not isinstance(cells, int) or not 1 <= cells <= len(train):
        raise ValueError(f"cells must be an int between 1 and the {len(train)} training points, got {cells!r}")
    if isinstance(min_generated, bool) or not isinstance(min_generated, int) or min_generated < 1:
        raise ValueError(f"min_generated must be a positive int, got {min_generated!r}")

    kmeans = KMeans(n_clusters=cells, n_init=3, random_state=seed).fit(train.numpy())
    labels = {name: kmeans.predict(p.numpy()) for name, p in
              (("train", train), ("held_out", held_out), ("generated", generated))}
    held_share = np.bincount(labels["held_out"], minlength=cells) / len(held_out)
    generated_share = np.bincount(labels["generated"], minlength=cells) / len(generated)
    empty = np.flatnonzero(held_share == 0)
    if len(empty):
        raise ValueError(f"{len(empty)} of {cells} cells hold no held-out point, so their copying cannot be "
                         f"judged; use fewer cells or more held-out points (got {len(held_out)})")
    kept = np.bincount(labels["generated"], minlength=cells) >= min_generated
    if not kept.any():
        raise ValueError(f"no cell holds {min_generated} generated points; draw more than {len(generated)} samples")
    cell_z = np.full(cells, np.nan)
    for cell in np.flatnonzero(kept):
        references = train[labels["train"] == cell]
        if len(references) == 0:  # k-means can leave a cell of repeated points empty
            raise ValueError(f"cell {cell} holds no training point; use fewer cells")
        to_train_generated, _ = nearest_neighbours(generated[labels["generated"] == cell], references)
        to_train_held_out, _ = nearest_neighbours(held_out[labels["held_out"] == cell], references)
        cell_z[cell] = mann_whitney_z(to_train_generated.numpy(), to_train_held_out.numpy())
    statistic = float((held_share[kept] * cell_z[kept]).sum() / held_share[kept].sum())
    return DataCopying(statistic, cell_z, held_share, generated_share, kept)
