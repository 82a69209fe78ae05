"""Checkpoints: one dict on disk, written atomically, read back with ``weights_only=True``.

A checkpoint is written to a temporary file in the target's directory and then renamed over the
target (``os.replace`` is atomic on POSIX and Windows), so a crash mid-write leaves the previous
checkpoint intact rather than a half-written file. Everything stored must be loadable with
``torch.load(..., weights_only=True)``, which unpickles tensors and plain containers only and
therefore cannot run code hidden in a downloaded file.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = ["FORMAT_VERSION", "CheckpointError", "save_checkpoint", "load_checkpoint"]

# Bump when the layout of the stored dict changes in a way old readers would misread.
FORMAT_VERSION = 1

# What `torch.load(weights_only=True)` accepts (besides tensors and containers, checked apart).
_PLAIN_TYPES = (int, float, complex, bool, str, bytes, type(None), torch.dtype, torch.device, torch.Size)


class CheckpointError(RuntimeError):
    """A file that exists but is not a checkpoint this version of gentut can read."""


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write `state` (plus ``"format_version"``) to `path` atomically and return the path.

    Raises TypeError, before anything is written, if `state` holds a value that
    ``weights_only=True`` could not load back (a NumPy array, a custom class, ...).
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a dict, got {type(state).__name__}")
    state = {**state, "format_version": FORMAT_VERSION}
    _check_loadable(state, "state")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary file lives beside the target: os.replace is only atomic within one file system.
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(path.parent)
    return path


def load_checkpoint(path: str | os.PathLike, *, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`.

    Raises FileNotFoundError if there is no file, and CheckpointError if the file is not a
    readable checkpoint (truncated, corrupt, not weights-only) or has another format version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises RuntimeError, UnpicklingError, EOFError, ... here
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated, corrupt, or not saved by "
            f"gentut.checkpoint.save_checkpoint): {type(error).__name__}: {error}"
        ) from error
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{path} is not a readable checkpoint: expected a dict, got {type(state).__name__}"
        )
    version = state.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format_version {version!r}, expected {FORMAT_VERSION}"
        )
    return state


def _check_loadable(value: Any, where: str) -> None:
    """Raise TypeError naming the first value `weights_only=True` would refuse to load."""
    # Exact types: subclasses (IntEnum, namedtuple, defaultdict, ...) need custom unpickling.
    if isinstance(value, torch.Tensor) or type(value) in _PLAIN_TYPES:
        return
    if type(value) in (dict, OrderedDict):
        for key, item in value.items():
            _check_loadable(key, f"{where} key")
            _check_loadable(item, f"{where}[{key!r}]")
        return
    if type(value) in (list, tuple, set):
        for index, item in enumerate(value):
            _check_loadable(item, f"{where}[{index}]")
        return
    raise TypeError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which "
        "torch.load(weights_only=True) cannot read back; store tensors, numbers, strings, None, "
        "and dicts/lists/tuples of them (convert NumPy arrays with torch.as_tensor)"
    )


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); Windows cannot open a directory, so skip there."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
