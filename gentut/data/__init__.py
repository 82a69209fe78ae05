"""Data for the book: image sets by name, the offline synthetic digits, and 2-D toys.

One line gives a notebook its digits, whatever the machine::

    data = load_digits("train")   # MNIST if cached or downloadable, else synthetic digits
    print(data.source)            # says which, and why

`load_images(name)` asks for one data set by name; `ImageData.from_tensor(x)` wraps a reader's
own images. Nothing here touches the disk or the network at import.
"""
from __future__ import annotations

import os
from typing import Callable

from gentut.data.binarize import binarize
from gentut.data.checks import check_images, check_labels
from gentut.data.download import OfflineError, cache_dir, is_offline_forced, probe
from gentut.data.images import ImageData
from gentut.data.loader import Batch, InMemoryLoader
from gentut.data.mnist import DATASETS, is_cached, load_fashion_mnist, load_mnist
from gentut.data.shapes import FactorData, make_shapes, render_shapes
from gentut.data.sklearn_digits import load_sklearn_digits
from gentut.data.synthetic_digits import make_synthetic_digits
from gentut.data.toy2d import (
    ToyData,
    grid_of_gaussians,
    ring_of_gaussians,
    swiss_roll,
    two_moons,
)

__all__ = [
    "IMAGE_DATASETS",
    "Batch",
    "FactorData",
    "ImageData",
    "InMemoryLoader",
    "OfflineError",
    "ToyData",
    "binarize",
    "cache_dir",
    "check_images",
    "check_labels",
    "grid_of_gaussians",
    "load_digits",
    "load_fashion_mnist",
    "load_images",
    "load_mnist",
    "load_sklearn_digits",
    "make_shapes",
    "make_synthetic_digits",
    "render_shapes",
    "ring_of_gaussians",
    "swiss_roll",
    "two_moons",
]

SYNTHETIC_SIZES = {"train": 60_000, "test": 10_000}  # as MNIST's splits


def _synthetic(split: str, n: int | None, seed: int, root, download) -> ImageData:
    return make_synthetic_digits(SYNTHETIC_SIZES.get(split, 10_000) if n is None else n, seed=seed, split=split)


def _sklearn(split: str, n: int | None, seed: int, root, download) -> ImageData:
    return load_sklearn_digits(split, seed=seed)


def _remote(name: str) -> Callable[..., ImageData]:
    def load(split: str, n: int | None, seed: int, root, download) -> ImageData:
        loader = load_mnist if name == "mnist" else load_fashion_mnist
        return loader(split, root=root, download=True if download is None else download)

    return load


IMAGE_DATASETS: dict[str, Callable[..., ImageData]] = {
    "synthetic-digits": _synthetic,
    "sklearn-digits": _sklearn,
    "mnist": _remote("mnist"),
    "fashion-mnist": _remote("fashion-mnist"),
}


def load_images(
    name: str,
    split: str = "train",
    *,
    n: int | None = None,
    seed: int = 0,
    root: str | os.PathLike | None = None,
    download: bool | None = None,
) -> ImageData:
    """The data set `name` ("synthetic-digits", "sklearn-digits", "mnist", "fashion-mnist").

    `n` keeps the first n images (for synthetic digits: generates n). `seed` seeds the synthetic
    digits and the sklearn-digits split. `root` is the cache directory of downloads, and
    `download=False` forbids fetching missing files.
    """
    if name not in IMAGE_DATASETS:
        raise ValueError(f"unknown data set {name!r}; known names: {', '.join(IMAGE_DATASETS)}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive int or None, got {n!r}")
    data = IMAGE_DATASETS[name](split, n, seed, root, download)
    return data if n is None or n >= len(data) or name == "synthetic-digits" else data.subset(n)


def _is_smoke() -> bool:
    from gentut.profiles import current_profile

    return current_profile().is_smoke


def load_digits(
    split: str = "train",
    *,
    n: int | None = None,
    seed: int = 0,
    prefer: str = "mnist",
    allow_download: bool | None = None,
    root: str | os.PathLike | None = None,
) -> ImageData:
    """Digits for a notebook: MNIST when it is cached or can be fetched, else synthetic digits.

    The network is tried at most once, with a short timeout, so an offline machine falls back
    in seconds. It is not tried at all in the smoke profile (tests, CI), when GENTUT_OFFLINE=1,
    or with `allow_download=False`. `prefer="synthetic-digits"` skips MNIST altogether. The
    returned `ImageData.source` says which data was used and why. A cached MNIST file with a
    wrong checksum is an error (it names the file to delete), not a silent fallback.
    """
    if prefer not in ("mnist", "synthetic-digits"):
        raise ValueError(f"prefer must be 'mnist' or 'synthetic-digits', got {prefer!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")

    def fallback(reason: str) -> ImageData:
        data = load_images("synthetic-digits", split, n=n, seed=seed)
        return ImageData(
            images=data.images,
            labels=data.labels,
            name=data.name,
            source=f"{reason}; using {data.source}" if reason else data.source,
            class_names=data.class_names,
        )

    if prefer == "synthetic-digits":
        return fallback("")
    mnist = DATASETS["mnist"]
    if not is_cached(mnist, split, root):
        if _is_smoke():
            return fallback("MNIST not downloaded in the smoke profile (no network in tests)")
        if is_offline_forced():
            return fallback("MNIST not cached and GENTUT_OFFLINE is set")
        if allow_download is False:
            return fallback("MNIST not cached and allow_download=False")
        try:  # one quick connection attempt before any download
            probe(mnist.mirrors[0])
        except OfflineError as error:
            return fallback(f"MNIST unavailable (offline: {error.__cause__ or error})")
    try:
        return load_images("mnist", split, n=n, root=root, download=True)
    except OfflineError as error:
        return fallback(f"MNIST unavailable (download failed: {str(error).split(' -- ')[-1][:200]})")
