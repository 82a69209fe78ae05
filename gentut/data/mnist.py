"""MNIST (LeCun, Bottou, Bengio and Haffner, 1998) and Fashion-MNIST (Xiao, Rasul and Vollgraf,
2017), read from their IDX files wherever they already are, else downloaded into the cache.

Where the files are looked for, in order: the folders a system package installs them into
(Debian's ``dataset-fashion-mnist`` puts Fashion-MNIST in /usr/share/datasets/fashion-mnist),
then the data cache (see `gentut.data.download.cache_dir`), then the mirrors. Each file may be
gzip-compressed (``train-images-idx3-ubyte.gz``) or not (``train-images-idx3-ubyte``).

The mirrors can be replaced without touching the code: ``GENTUT_MNIST_MIRRORS`` and
``GENTUT_FASHION_MNIST_MIRRORS`` each hold base URLs separated by spaces, tried in order instead of
the built-in ones (a local copy served by ``python -m http.server``, a mirror reachable through
a proxy), and `load_idx_dataset` takes a `mirrors` argument that wins over both. The checksums
do not change with the mirror: any server must serve the same release.

The checksums pinned below are SHA-256 values of the decompressed IDX contents, so one pin
accepts the upstream download, Debian's files (compressed again, by another tool: other bytes,
the same images and labels) and a reader's own re-compressed copy. The SHA-256 of each upstream
.gz file is pinned as well, as an accepted alternative that skips the decompression check.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from gentut.data.download import ChecksumError, cache_dir, download
from gentut.data.idx import IMAGES_MAGIC, LABELS_MAGIC, decompress, parse_idx
from gentut.data.images import ImageData

__all__ = [
    "DATASETS",
    "FASHION_MNIST",
    "MNIST",
    "RemoteDataset",
    "find_files",
    "is_available",
    "load_fashion_mnist",
    "load_idx_dataset",
    "load_mnist",
    "mirrors_of",
]


@dataclass(frozen=True)
class RemoteDataset:
    """An IDX data set: its mirrors, checksums, class names and the folders it may be installed in.

    `idx_sha256` maps each file's base name (``train-images-idx3-ubyte``) to the SHA-256 of its
    decompressed contents; `gz_sha256` maps the upstream ``.gz`` names to the SHA-256 of those
    exact bytes. `system_dirs` are folders a package manager installs the files into.
    """

    name: str
    title: str
    mirrors: tuple[str, ...]
    idx_sha256: dict
    gz_sha256: dict
    class_names: tuple[str, ...]
    citation: str
    system_dirs: tuple[str, ...] = ()
    system_package: str = ""

    def files(self, split: str) -> tuple[str, str]:
        """Base names (no .gz) of the image and label files of `split`."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        prefix = "train" if split == "train" else "t10k"
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


MNIST = RemoteDataset(
    name="mnist",
    title="MNIST",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    idx_sha256={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    gz_sha256={
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    class_names=tuple(str(d) for d in range(10)),
    citation="LeCun, Bottou, Bengio and Haffner, 1998",
)

FASHION_MNIST = RemoteDataset(
    name="fashion-mnist",
    title="Fashion-MNIST",
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    idx_sha256={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    gz_sha256={
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    citation="Xiao, Rasul and Vollgraf, 2017",
    system_dirs=("/usr/share/datasets/fashion-mnist",),  # Debian's dataset-fashion-mnist
    system_package="dataset-fashion-mnist",
)

DATASETS = {MNIST.name: MNIST, FASHION_MNIST.name: FASHION_MNIST}


def mirrors_of(dataset: RemoteDataset, mirrors: Sequence[str] | None = None) -> tuple[str, ...]:
    """The base URLs to download `dataset` from, in order: `mirrors` if given, else the ones in
    the environment variable ``GENTUT_<NAME>_MIRRORS`` (see the module docstring), else its own."""
    variable = f"GENTUT_{dataset.name.upper().replace('-', '_')}_MIRRORS"
    if mirrors is None and os.environ.get(variable, "").strip():
        mirrors, where = os.environ[variable].split(), f"the environment variable {variable}"
    else:
        where = "mirrors"
    if mirrors is None:
        return dataset.mirrors
    if isinstance(mirrors, str) or not mirrors or not all(isinstance(m, str) and m for m in mirrors):
        raise ValueError(f"{where} must be a non-empty list of base URLs, got {mirrors!r}")
    bad = [m for m in mirrors if not m.startswith(("http://", "https://", "file://"))]
    if bad:
        raise ValueError(f"{where} must hold http://, https:// or file:// base URLs, got {bad[0]!r}")
    # a base URL is joined with a file name: make sure a forgotten trailing slash does not glue them
    return tuple(m if m.endswith("/") else m + "/" for m in mirrors)


def _folders(dataset: RemoteDataset, root: str | os.PathLike | None) -> list[tuple[Path, str]]:
    """(folder, how to name it to a reader) in search order: system folders, then the cache.

    An explicit `root` is the reader's choice and is searched alone.
    """
    cache = (cache_dir(root) / dataset.name, "the gentut data cache" if root is None else "the folder given as root")
    if root is not None:
        return [cache]
    package = f"the system package {dataset.system_package}" if dataset.system_package else "a system folder"
    return [(Path(folder), package) for folder in dataset.system_dirs] + [cache]


def _find(folder: Path, base: str) -> Path | None:
    for candidate in (folder / f"{base}.gz", folder / base):
        if candidate.is_file():
            return candidate
    return None


def find_files(
    dataset: RemoteDataset, split: str, root: str | os.PathLike | None = None
) -> tuple[list[Path], str] | None:
    """The image and label files of `split` in the first folder holding both, and where that is."""
    for folder, where in _folders(dataset, root):
        paths = [_find(folder, base) for base in dataset.files(split)]
        if all(paths):
            return paths, where
    return None


def is_available(dataset: RemoteDataset, split: str, root: str | os.PathLike | None = None) -> bool:
    """True if both files of `split` are on this machine (checksums are checked on load)."""
    return find_files(dataset, split, root) is not None


def _verified_contents(dataset: RemoteDataset, path: Path, base: str) -> bytes:
    """The decompressed IDX bytes of `path`, after checking them against the pins for `base`."""
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() == dataset.gz_sha256[f"{base}.gz"]:
        return decompress(raw, path.name)  # the upstream .gz file itself
    contents = decompress(raw, path.name)
    got = hashlib.sha256(contents).hexdigest()
    if got != dataset.idx_sha256[base]:
        raise ChecksumError(
            f"{path.name} does not hold {dataset.title}'s {base}: its decompressed contents have "
            f"sha256 {got}, the pinned release has {dataset.idx_sha256[base]} (upstream .gz file: "
            f"{dataset.gz_sha256[base + '.gz']}). gentut left the file as it is; it reads only the "
            f"original release, compressed or not, by any tool"
        )
    return contents


def load_idx_dataset(
    dataset: RemoteDataset,
    split: str = "train",
    *,
    root: str | os.PathLike | None = None,
    download_missing: bool = True,
    timeout: float | None = None,
    mirrors: Sequence[str] | None = None,
) -> ImageData:
    """Images (N, 1, 28, 28) in [0, 1] and labels of `split`, found locally or downloaded
    (from `mirrors_of(dataset, mirrors)`)."""
    urls_base = mirrors_of(dataset, mirrors)  # checked before anything is looked for
    found = find_files(dataset, split, root)
    if found is None:
        if not download_missing:
            places = " or ".join(where for _, where in _folders(dataset, root))
            raise FileNotFoundError(
                f"{dataset.title} {split} split is not in {places} and download=False; call with "
                f"download=True or put the files there"
            )
        folder = cache_dir(root) / dataset.name
        kwargs = {} if timeout is None else {"timeout": timeout}
        paths = []
        for base in dataset.files(split):
            urls = [mirror + base + ".gz" for mirror in urls_base]
            # The content check accepts any mirror's compression of the same file.
            verify = lambda path, base=base: _verified_contents(dataset, path, base)  # noqa: E731
            paths.append(download(urls, folder / f"{base}.gz", sha256=None, verify=verify, **kwargs))
        where = "downloaded into the gentut data cache"
    else:
        paths, where = found
        where = f"from {where}"
    images_base, labels_base = dataset.files(split)
    images = parse_idx(_verified_contents(dataset, paths[0], images_base), paths[0].name, expected_magic=IMAGES_MAGIC)
    labels = parse_idx(_verified_contents(dataset, paths[1], labels_base), paths[1].name, expected_magic=LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(f"{dataset.title} {split}: {len(images)} images but {len(labels)} labels")
    return ImageData(
        images=torch.from_numpy(images.copy()).unsqueeze(1).float() / 255.0,  # (N, 1, 28, 28)
        labels=torch.from_numpy(labels.astype("int64")),
        name=dataset.name,
        source=f"{dataset.title} {split} split ({dataset.citation}), {where}",
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
