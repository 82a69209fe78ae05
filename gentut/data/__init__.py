"""Data for the book: image sets by name, the offline synthetic digits, and 2-D toys.

One line gives a notebook its images, whatever the machine::

    data = load_book_images("fashion-mnist", "train")  # installed, cached or downloaded, else synthetic digits
    print(data.source)                                 # says which, and why

`load_images(name)` asks for one data set by name; `ImageData.from_tensor(x)` wraps a reader's
own images. Nothing here touches the disk or the network at import.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable

from gentut.data.binarize import binarize
from gentut.data.checks import check_images, check_labels
from gentut.data.download import OfflineError, cache_dir, is_offline_forced, probe
from gentut.data.images import ImageData
from gentut.data.loader import Batch, InMemoryLoader
from gentut.data.mnist import DATASETS, is_available, load_fashion_mnist, load_mnist, mirrors_of
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
    "BOOK_DATASETS",
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
    "load_book_images",
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
    _check_size_and_seed(n, seed)
    data = IMAGE_DATASETS[name](split, n, seed, root, download)
    if n is None or n == len(data) or name == "synthetic-digits":
        return data
    if n > len(data):  # a silently smaller data set would change every number computed from it
        raise ValueError(f"n = {n:,} images were asked for, but the {name} {split} split has {len(data):,}")
    return data.subset(n)


def _check_size_and_seed(n: object, seed: object) -> None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive int or None, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TypeError(f"seed must be an int >= 0, got {seed!r} ({type(seed).__name__})")


def _is_smoke() -> bool:
    from gentut.profiles import current_profile

    return current_profile().is_smoke


BOOK_DATASETS = ("fashion-mnist", "mnist", "synthetic-digits")


def load_book_images(
    name: str = "fashion-mnist",
    split: str = "train",
    *,
    n: int | None = None,
    seed: int = 0,
    allow_download: bool | None = None,
    root: str | os.PathLike | None = None,
) -> ImageData:
    """A chapter's images: data set `name` if it is on this machine or can be fetched, else
    the offline synthetic digits.

    `name` is "fashion-mnist" (the book's stored outputs), "mnist" or "synthetic-digits". Local
    files are used first (a system package such as Debian's dataset-fashion-mnist, then the
    cache). The network is tried at most once, with a short timeout, and not at all in the smoke
    profile (tests, CI), when GENTUT_OFFLINE=1, or with `allow_download=False`. The returned
    `ImageData.source` says in one line which data was used and why. A local file whose contents
    are not the pinned release is an error that says what was found, not a silent fallback.
    """
    if name not in BOOK_DATASETS:
        raise ValueError(f"name must be one of {BOOK_DATASETS}, got {name!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    _check_size_and_seed(n, seed)
    if allow_download is not None and not isinstance(allow_download, bool):
        raise TypeError(f"allow_download must be True, False or None, got {allow_download!r}")

    def fallback(reason: str) -> ImageData:
        data = load_images("synthetic-digits", split, n=n, seed=seed)
        return dataclasses.replace(data, source=f"{reason}; using {data.source}") if reason else data

    if name == "synthetic-digits":
        return fallback("")
    dataset = DATASETS[name]
    if not is_available(dataset, split, root):
        missing = f"{dataset.title} is not on this machine"
        if _is_smoke():
            return fallback(f"{missing} and the smoke profile does not download")
        if is_offline_forced():
            return fallback(f"{missing} and GENTUT_OFFLINE is set")
        if allow_download is False:
            return fallback(f"{missing} and allow_download=False")
        try:  # one quick connection attempt before any download
            probe(mirrors_of(dataset)[0])
        except OfflineError:
            return fallback(f"{missing} and cannot be downloaded (offline)")
    try:
        data = load_images(name, split, root=root, download=True)
    except OfflineError:
        return fallback(f"{dataset.title} is not on this machine and its download failed")
    if n is None or n == len(data):
        return data
    if n > len(data):
        raise ValueError(f"n = {n:,} images were asked for, but {data.source} has {len(data):,}")
    return dataclasses.replace(data.subset(n), source=f"{data.source}: the first {n:,} of {len(data):,} images")
