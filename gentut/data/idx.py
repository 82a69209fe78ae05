"""Reader for the IDX files MNIST and Fashion-MNIST are distributed in (LeCun et al., 1998).

Layout (big-endian): two zero bytes, a type byte (0x08 = unsigned byte), a byte with the number
of dimensions, then one 32-bit size per dimension, then the data. So the magic number is 2051
(0x00000803) for image files (N, rows, cols) and 2049 (0x00000801) for label files (N,). Files
may be gzip-compressed, as they are downloaded.

A malformed or hostile file fails fast, in bounded time and memory, with an error naming the file
and what is wrong: `read_idx` refuses anything but a regular file (a pipe or a device would block
or never end) and files larger than ``max_bytes``; `decompress` stops unpacking at ``max_bytes``
(a small gzip file can unpack to gigabytes); `parse_idx` compares the sizes the header declares
with the limit and with the data before it builds an array.
"""
from __future__ import annotations

import gzip
import os
import stat
import struct
import zlib

import numpy as np

__all__ = [
    "MAX_IDX_BYTES",
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
# The largest IDX contents read: 1 GiB, twenty times MNIST's training images (47 MB unpacked).
MAX_IDX_BYTES = 1 << 30
GZIP_MAGIC = b"\x1f\x8b"


def decompress(raw: bytes, name: str, *, max_bytes: int = MAX_IDX_BYTES) -> bytes:
    """`raw` unpacked if it is gzip data (by its magic bytes), else `raw` itself; at most
    `max_bytes` are unpacked, so a small file that would unpack to gigabytes fails early."""
    if raw[:2] != GZIP_MAGIC:
        return raw
    chunks: list[bytes] = []
    total, rest = 0, raw
    while rest:  # a gzip file may hold several members, one after the other
        unpacker = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # 16 +: expect the gzip wrapper
        try:
            chunk = unpacker.decompress(rest, max_bytes + 1 - total)
        except zlib.error as error:
            raise ValueError(f"{name} is not a complete gzip file ({error})") from error
        total += len(chunk)
        chunks.append(chunk)
        if total > max_bytes:
            raise ValueError(f"{name} unpacks to more than {max_bytes:,} bytes, the limit for an IDX file; "
                             "it is not an MNIST-style data file")
        if not unpacker.eof:
            raise ValueError(f"{name} is not a complete gzip file (its compressed stream ends early)")
        rest = unpacker.unused_data
        if not rest.strip(b"\x00"):  # gzip allows zero padding after the last member
            break
        if rest[:2] != GZIP_MAGIC:
            raise ValueError(f"{name} is not a complete gzip file ({len(rest)} bytes of other data follow it)")
    return b"".join(chunks)


def parse_idx(data: bytes, name: str, *, expected_magic: int | None = None,
              max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
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
    expected = 1
    for size in shape:  # Python ints: a product of four 32-bit sizes can overflow int64
        expected *= size
    if expected > max_bytes:
        raise ValueError(f"{name} declares shape {tuple(shape)}, {expected:,} data bytes, more than the "
                         f"{max_bytes:,}-byte limit for an IDX file (a corrupt or hostile header)")
    got = len(data) - header
    if got != expected:
        problem = "truncated" if got < expected else "longer than its header says"
        raise ValueError(f"{name} is {problem}: shape {tuple(shape)} needs {expected} data bytes, got {got}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx(path: str | os.PathLike, *, expected_magic: int | None = None,
             max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """The uint8 array stored in an IDX file (gzip or raw), checking magic number and length."""
    info = os.stat(path)  # FileNotFoundError names the path
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path} is not a regular file (a directory, pipe or device); an IDX file is a file")
    if info.st_size > max_bytes:
        raise ValueError(f"{path} is {info.st_size:,} bytes, more than the {max_bytes:,}-byte limit for an IDX file")
    with open(path, "rb") as handle:
        raw = handle.read(max_bytes + 1)  # bounded even if the file grows while it is read
    data = decompress(raw, str(path), max_bytes=max_bytes)
    return parse_idx(data, str(path), expected_magic=expected_magic, max_bytes=max_bytes)


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
