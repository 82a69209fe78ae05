"""`ImageData`: a labelled set of images held in memory, the one type every loader returns.

A chapter asks for data by name (`gentut.data.load_images`) or wraps its own tensor with
`ImageData.from_tensor`, and then needs only `.loader(batch_size)`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Sequence

import torch
from torch import Tensor

from gentut.data.binarize import binarize
from gentut.data.checks import check_images, check_labels
from gentut.data.loader import InMemoryLoader

__all__ = ["ImageData"]


@dataclass(frozen=True)
class ImageData:
    """Images (N, C, H, W) float32 in [0, 1] with optional int64 labels (N,).

    Attributes:
        images: the pixels.
        labels: class index per image, or None.
        name: short name of the data set ("mnist", "synthetic-digits", ...).
        source: a sentence saying where the data came from (and, for fallbacks, why).
        class_names: one name per class index, or None.
    """

    images: Tensor
    labels: Tensor | None = None
    name: str = "custom"
    source: str = ""
    class_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        images = check_images(self.images)
        object.__setattr__(self, "images", images)
        if self.labels is not None:
            object.__setattr__(self, "labels", check_labels(self.labels, len(images)))
        if self.class_names is not None:
            object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        if self.labels is not None and len(self.labels):
            # A label outside the declared classes would index past the class names, an
            # embedding or a classifier's logits far from here; say so where the data comes in.
            classes = None if self.class_names is None else len(self.class_names)
            low, high = int(self.labels.min()), int(self.labels.max())
            if low < 0 or (classes is not None and high >= classes):
                bad = self.labels[(self.labels < 0) | (self.labels >= (classes or high + 1))]
                allowed = "non-negative" if classes is None else f"in [0, {classes}) for its {classes} classes"
                raise ValueError(
                    f"{self.name!r}: labels must be {allowed}, got {len(bad)} outside, e.g. {int(bad[0])}"
                )

    @classmethod
    def from_tensor(
        cls,
        images: Tensor,
        labels: Tensor | None = None,
        name: str = "custom",
        *,
        source: str = "",
        class_names: Sequence[str] | None = None,
    ) -> "ImageData":
        """Wrap your own images (N, C, H, W) float in [0, 1], checked with a clear message."""
        images = check_images(images)
        return cls(
            images=images,
            labels=None if labels is None else check_labels(labels, len(images)),
            name=name,
            source=source or f"your own data ({len(images)} images)",
            class_names=None if class_names is None else tuple(class_names),
        )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int | None:
        if self.class_names is not None:
            return len(self.class_names)
        return None if self.labels is None else int(self.labels.max()) + 1

    def subset(self, index: int | slice | Tensor | Sequence[int]) -> "ImageData":
        """The first `index` images (an int), or those picked by a slice, indices or a bool mask."""
        if isinstance(index, bool):
            raise TypeError("subset takes a count, slice, indices or mask, got a bool")
        if isinstance(index, int):
            if not 1 <= index <= len(self):
                raise ValueError(f"subset size must be in [1, {len(self)}], got {index}")
            index = slice(0, index)
        elif not isinstance(index, (slice, Tensor)):
            index = torch.as_tensor(list(index), dtype=torch.int64)
        if isinstance(index, Tensor) and index.dtype == torch.bool and index.shape != (len(self),):
            raise ValueError(f"a mask must have shape ({len(self)},), got {tuple(index.shape)}")
        images = self.images[index]
        if len(images) == 0:
            raise ValueError("subset selects no images")
        labels = None if self.labels is None else self.labels[index]
        return replace(self, images=images, labels=labels)

    def where(self, label_mask: Tensor) -> "ImageData":
        """The images whose entry in `label_mask` (a bool mask over images) is True."""
        if not isinstance(label_mask, Tensor) or label_mask.dtype != torch.bool:
            raise TypeError(f"where takes a bool tensor of shape ({len(self)},), got {label_mask!r:.60}")
        return self.subset(label_mask)

    def _class_mask(self, classes: Iterable[int]) -> Tensor:
        if self.labels is None:
            raise ValueError(f"{self.name!r} has no labels, so classes cannot be selected")
        classes = torch.as_tensor(list(classes), dtype=torch.int64)
        return torch.isin(self.labels, classes)

    def only_classes(self, *classes: int) -> "ImageData":
        """The images of the given classes, e.g. `data.only_classes(0, 1)`."""
        return self.where(self._class_mask(classes))

    def exclude_classes(self, *classes: int) -> "ImageData":
        """All images except the given classes: train on these, hold one class out as anomalies."""
        return self.where(~self._class_mask(classes))

    def binarized(self, seed: int = 0) -> "ImageData":
        """A fixed stochastic binarisation: each pixel 1 with probability equal to its grey value.

        The same seed gives the same black-and-white images (Salakhutdinov and Murray 2008); see
        `gentut.data.binarize` for binarising afresh on every batch instead.
        """
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        generator = torch.Generator(device=self.images.device).manual_seed(seed)
        return replace(
            self,
            images=binarize(self.images, generator=generator),
            name=f"{self.name}-binarized",
            source=f"{self.source}; stochastically binarised (seed {seed})",
        )

    def loader(
        self,
        batch_size: int = 128,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        device: torch.device | str | None = None,
    ) -> InMemoryLoader:
        """Batches of (images, labels) in a reproducible order (see `InMemoryLoader`)."""
        return InMemoryLoader(
            self.images,
            self.labels,
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            seed=seed,
            device=device,
        )

    def __repr__(self) -> str:
        labels = "no labels" if self.labels is None else "labels"
        return f"ImageData({self.name!r}, {len(self)} images of shape {self.image_shape}, {labels}; {self.source})"
