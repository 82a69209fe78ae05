"""MNIST (LeCun, Bottou, Bengio and Haffner, 1998) and Fashion-MNIST (Xiao, Rasul and Vollgraf,
2017), downloaded once into the data cache and read from their IDX files.

The SHA-256 of every .gz file is pinned below (the values published by TensorFlow Datasets and
Keras and reproduced in many projects); a download whose checksum differs is rejected. Mirrors are
tried in order.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from gentut.data.download import cache_dir, download
from gentut.data.idx import read_idx_images, read_idx_labels
from gentut.data.images import ImageData

__all__ = ["DATASETS", "RemoteDataset", "load_mnist", "load_fashion_mnist", "load_idx_dataset", "is_cached"]


@dataclass(frozen=True)
class RemoteDataset:
    """Where an IDX data set lives: mirrors (base URLs), files with their SHA-256, class names."""

    name: str
    title: str
    mirrors: tuple[str, ...]
    sha256: dict  # file name -> hex digest
    class_names: tuple[str, ...]
    citation: str

    def files(self, split: str) -> tuple[str, str]:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        prefix = "train" if split == "train" else "t10k"
        return f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"


MNIST = RemoteDataset(
    name="mnist",
    title="MNIST",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    sha256={
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    class_names=tuple(str(d) for d in range(10)),
    citation="LeCun, Bottou, Bengio and Haffner (1998)",
)

FASHION_MNIST = RemoteDataset(
    name="fashion-mnist",
    title="Fashion-MNIST",
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    sha256={
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    citation="Xiao, Rasul and Vollgraf (2017)",
)

DATASETS = {MNIST.name: MNIST, FASHION_MNIST.name: FASHION_MNIST}


def _folder(dataset: RemoteDataset, root: str | os.PathLike | None) -> Path:
    return cache_dir(root) / dataset.name


def is_cached(dataset: RemoteDataset, split: str, root: str | os.PathLike | None = None) -> bool:
    """True if both files of `split` are already in the cache (checksums are checked on load)."""
    folder = _folder(dataset, root)
    return all((folder / f).exists() for f in dataset.files(split))


def load_idx_dataset(
    dataset: RemoteDataset,
    split: str = "train",
    *,
    root: str | os.PathLike | None = None,
    download_missing: bool = True,
    timeout: float | None = None,
) -> ImageData:
    """Images (N, 1, 28, 28) in [0, 1] and labels of `split`, downloading missing files first."""
    folder = _folder(dataset, root)
    paths = []
    for file_name in dataset.files(split):
        path = folder / file_name
        if not path.exists() and not download_missing:
            raise FileNotFoundError(
                f"{path} is missing and download=False; call with download=True or put the file there"
            )
        kwargs = {} if timeout is None else {"timeout": timeout}
        urls = [mirror + file_name for mirror in dataset.mirrors]
        paths.append(download(urls, path, sha256=dataset.sha256[file_name], **kwargs))
    images = torch.from_numpy(read_idx_images(paths[0]).copy())  # (N, 28, 28) uint8
    labels = torch.from_numpy(read_idx_labels(paths[1]).astype("int64"))
    if len(images) != len(labels):
        raise ValueError(f"{dataset.title} {split}: {len(images)} images but {len(labels)} labels")
    return ImageData(
        images=images.unsqueeze(1).float() / 255.0,  # (N, 1, 28, 28)
        labels=labels,
        name=dataset.name,
        source=f"{dataset.title} {split} split ({dataset.citation}), cached in {folder}",
        class_names=dataset.class_names,
    )


def load_mnist(split: str = "train", *, root: str | os.PathLike | None = None, download: bool = True) -> ImageData:
    """MNIST `split` ("train": 60,000 images, "test": 10,000), downloaded into the cache once."""
    return load_idx_dataset(MNIST, split, root=root, download_missing=download)


def load_fashion_mnist(
    split: str = "train", *, root: str | os.PathLike | None = None, download: bool = True
) -> ImageData:
    """Fashion-MNIST `split` (60,000 / 10,000 28x28 images of clothing in 10 classes)."""
    return load_idx_dataset(FASHION_MNIST, split, root=root, download_missing=download)
