"""Reader for the IDX files MNIST and Fashion-MNIST are distributed in (LeCun et al., 1998).

Layout (big-endian): two zero bytes, a type byte (0x08 = unsigned byte), a byte with the number
of dimensions, then one 32-bit size per dimension, then the data. So the magic number is 2051
(0x00000803) for image files (N, rows, cols) and 2049 (0x00000801) for label files (N,). Files
may be gzip-compressed, as they are downloaded.
"""
from __future__ import annotations

import gzip
import os
import struct

import numpy as np

__all__ = [
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "decompress",
    "parse_idx",
    "read_idx",
    "read_idx_images",
    "read_idx_labels",
    "write_idx",
]

IMAGES_MAGIC = 2051  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # unsigned bytes, 1 dimension


def decompress(raw: bytes, name: str) -> bytes:
    """`raw` unpacked if it is gzip data (by its magic bytes), else `raw` itself."""
    if raw[:2] != b"\x1f\x8b":  # gzip's magic bytes
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as error:
        raise ValueError(f"{name} is not a complete gzip file ({error})") from error


def parse_idx(data: bytes, name: str, *, expected_magic: int | None = None) -> np.ndarray:
    """The uint8 array in the (decompressed) IDX bytes `data`; `name` labels the errors."""
    if len(data) < 4:
        raise ValueError(f"{name} is too short for an IDX file: {len(data)} bytes")
    (magic,) = struct.unpack(">i", data[:4])
    if expected_magic is not None and magic != expected_magic:
        kind = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}.get(expected_magic, "IDX")
        raise ValueError(
            f"{name} is not an IDX {kind} file: expected magic number {expected_magic}, got {magic}"
        )
    if magic >> 8 != 0x08:
        raise ValueError(f"{name}: only unsigned-byte IDX files (magic 0x08xx) are supported, got {magic:#x}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name} is truncated: header needs {header} bytes, file has {len(data)}")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape, dtype=np.int64))
    got = len(data) - header
    if got != expected:
        problem = "truncated" if got < expected else "longer than its header says"
        raise ValueError(f"{name} is {problem}: shape {tuple(shape)} needs {expected} data bytes, got {got}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx(path: str | os.PathLike, *, expected_magic: int | None = None) -> np.ndarray:
    """The uint8 array stored in an IDX file (gzip or raw), checking magic number and length."""
    with open(path, "rb") as handle:
        raw = handle.read()
    return parse_idx(decompress(raw, str(path)), str(path), expected_magic=expected_magic)


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """Images (N, rows, cols) uint8 from an IDX image file."""
    return read_idx(path, expected_magic=IMAGES_MAGIC)


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """Labels (N,) uint8 from an IDX label file."""
    return read_idx(path, expected_magic=LABELS_MAGIC)


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write a uint8 array as an IDX file (gzip if `compress`, or if the name ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">i", (0x08 << 8) | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    if compress is None:
        compress = str(path).endswith(".gz")
    with open(path, "wb") as handle:
        handle.write(gzip.compress(payload, mtime=0) if compress else payload)
