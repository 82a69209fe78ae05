"""A reader's own images from files: NumPy arrays (.npy, .npz) or a folder of PNG and JPEG files,
converted to the size and channels a model takes, with an error naming any file it cannot read.

* ``.npy``: one array of images, (N, H, W), (N, H, W, C) or (N, C, H, W), uint8 in 0..255 or
  floats in [0, 1];
* ``.npz``: the same under the key ``images`` (or the archive's only array), and optionally
  integer ``labels`` (N,);
* a folder: every ``.png``, ``.jpg`` and ``.jpeg`` file in it, sorted by name; a folder of
  sub-folders takes each sub-folder as a class (its name in ``class_names``), as
  torchvision's ImageFolder does.

Images are resized with Pillow (bilinear, with antialiasing) to the requested (H, W) and turned to
grey (ITU-R 601 luma, Pillow's "L") or RGB to match the channels.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from gentut.data.images import ImageData

__all__ = ["load_image_files", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def load_image_files(path: str | os.PathLike, image_shape: Sequence[int] = (1, 28, 28)) -> ImageData:
    """The images at `path` (see the module docstring) as an `ImageData` of `image_shape` (C, H, W)."""
    path = Path(path).expanduser()
    channels, height, width = image_shape
    if channels not in (1, 3):
        raise ValueError(f"image_shape must have 1 (grey) or 3 (RGB) channels, got {tuple(image_shape)}")
    if path.is_dir():
        arrays, labels, class_names = _read_folder(path, channels)
    elif path.suffix == ".npy":
        arrays, labels, class_names = _split(_load_numpy(path, "images"), path), None, None
    elif path.suffix == ".npz":
        arrays, labels, class_names = _read_npz(path)
    elif not path.exists():
        raise FileNotFoundError(f"no file or folder at {path}")
    else:
        raise ValueError(f"{path} is neither a folder of images nor a .npy or .npz file")
    if not arrays:
        raise ValueError(f"{path} holds no images (looked for {', '.join(IMAGE_SUFFIXES)} files, or an array)")
    images = torch.from_numpy(np.stack([_convert(a, channels, height, width, path) for a in arrays]))
    return ImageData.from_tensor(images, labels, name=path.stem or path.name,
                                 source=f"{len(images):,} images from {path.name}, as {channels}x{height}x{width}",
                                 class_names=class_names)


def _load_numpy(path: Path, what: str, archive: np.lib.npyio.NpzFile | None = None, key: str | None = None):
    try:
        array = archive[key] if archive is not None else np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:  # pickled objects are refused, not run
        raise ValueError(f"{path}: cannot read {what} ({type(error).__name__}: {error})") from None
    return array


def _read_npz(path: Path):
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"{path} is not a readable .npz archive ({type(error).__name__}: {error})") from None
    with archive:
        keys = list(archive.keys())
        key = "images" if "images" in keys else (keys[0] if len(keys) == 1 else None)
        if key is None:
            raise ValueError(f"{path} holds arrays {keys}; name the images 'images' (and the labels 'labels')")
        arrays = _split(_load_numpy(path, "images", archive, key), path)
        labels = None
        if "labels" in keys:
            labels = _load_numpy(path, "labels", archive, "labels")
            if labels.ndim != 1 or labels.dtype.kind not in "iu":
                raise ValueError(f"{path}: labels must be integers of shape (N,), got {labels.dtype} {labels.shape}")
            labels = torch.from_numpy(labels.astype(np.int64))
    return arrays, labels, None


def _split(array: np.ndarray, path: Path) -> list[np.ndarray]:
    """An array of images as a list of (H, W) or (H, W, C) arrays."""
    if array.dtype.kind not in "uif" or array.ndim not in (3, 4):
        raise ValueError(f"{path}: expected images (N, H, W), (N, H, W, C) or (N, C, H, W) of numbers, "
                         f"got {array.dtype} of shape {array.shape}")
    if array.ndim == 4 and array.shape[1] in (1, 3, 4) and array.shape[3] not in (1, 3, 4):
        array = array.transpose(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
    return list(array)


def _read_folder(folder: Path, channels: int):
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    classes = sorted(p for p in folder.iterdir() if p.is_dir())
    if files or not classes:
        return [_read_image(p, channels) for p in files], None, None
    arrays, labels = [], []
    for index, sub in enumerate(classes):
        members = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        arrays += [_read_image(p, channels) for p in members]
        labels += [index] * len(members)
    return arrays, torch.tensor(labels, dtype=torch.int64), tuple(p.name for p in classes)


def _read_image(path: Path, channels: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L" if channels == 1 else "RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ValueError(f"{path} is not an image Pillow can read ({type(error).__name__}: {error})") from None


def _convert(array: np.ndarray, channels: int, height: int, width: int, path: Path) -> np.ndarray:
    """One image (H, W) or (H, W, C), uint8 or float in [0, 1], as float32 (C, H, W) in [0, 1]."""
    from PIL import Image

    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise ValueError(f"{path}: float images must be finite and in [0, 1], got values from "
                             f"{np.nanmin(array):.4g} to {np.nanmax(array):.4g}")
        array = (array * 255).round().astype(np.uint8)
    elif array.min() < 0 or array.max() > 255:
        raise ValueError(f"{path}: integer images must be in 0..255, got {array.min()} to {array.max()}")
    array = array.astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    image = Image.fromarray(array[:, :, :3] if array.ndim == 3 else array)
    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)  # antialiased when shrinking
    out = np.asarray(image, dtype=np.float32) / 255
    return out[None] if channels == 1 else out.transpose(2, 0, 1)
