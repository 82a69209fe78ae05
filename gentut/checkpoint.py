"""Checkpoints: one dict on disk, written atomically, read back with ``weights_only=True``.

A checkpoint is written to a temporary file in the target's directory and then renamed over the
target (``os.replace`` is atomic on POSIX and Windows), so a crash mid-write leaves the previous
checkpoint intact rather than a half-written file; the temporary files a killed process leaves
behind are removed by the next save to the same target. Everything stored must be loadable with
``torch.load(..., weights_only=True)``, which unpickles tensors and plain containers only and
therefore cannot run code hidden in a downloaded file.

``torch.save`` writes a zip archive that stores a CRC-32 of every record, but ``torch.load`` does
not check them: a bit flipped inside a weight on disk or in transfer loads silently as another
number. `load_checkpoint` checks every record's CRC first and names the file and the record that
fails.
"""
from __future__ import annotations

import contextlib
import glob
import os
import tempfile
import time
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterable

import torch

__all__ = ["FORMAT_VERSION", "CheckpointError", "save_checkpoint", "load_checkpoint", "require_sections", "check_loadable"]

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
    check_loadable(state, "state")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    # The temporary file lives beside the target: os.replace is only atomic within one file system.
    # Its name carries our process id, so that a later save can tell a dead writer's leftovers.
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(temp_name, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        if isinstance(error, (OSError, RuntimeError)):  # torch reports a full disk as "unexpected pos ..."
            previous = "the previous checkpoint there is unchanged" if path.exists() else "nothing was written"
            raise OSError(f"could not write the checkpoint {path} ({type(error).__name__}: {error}); the disk may "
                          f"be full or not writable; {previous}") from error
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
    _check_integrity(path)
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


def require_sections(state: Mapping[str, Any], sections: Iterable[str], where: object, *, kind: str = "checkpoint") -> None:
    """Raise CheckpointError naming `where` (a file) and the sections of `state` that are missing.

    A bare KeyError would name only the key; the reader also needs the file, what it does hold,
    and a hint that it may be another kind of file (a classifier cache given to a trainer).
    """
    missing = [name for name in sections if name not in state]
    if missing:
        raise CheckpointError(
            f"{where} lacks the {kind} section{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}; "
            f"it holds {', '.join(map(repr, sorted(map(str, state)))) or 'nothing'}. Is it another kind of "
            f"file (a model checkpoint needs 'spec' and 'model'; a trainer's adds 'optimizers', 'history', ...)?"
        )


def _check_integrity(path: Path) -> None:
    """Raise CheckpointError unless `path` is a zip archive whose every record matches its CRC-32."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()  # reads every record and compares its CRC-32; the first bad name
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated, corrupt, or not saved by "
            f"gentut.checkpoint.save_checkpoint): {type(error).__name__}: {error}"
        ) from error
    if bad is not None:
        raise CheckpointError(
            f"{path} is corrupt: its record {bad!r} does not match the CRC-32 stored with it (bytes changed "
            f"on disk or in transfer); restore the file from a copy or re-create it"
        )


TEMP_SUFFIX = ".tmp"
STALE_AFTER_SECONDS = 3600  # a temporary file without a live writer's id is stale after an hour


def _remove_stale_temporaries(path: Path) -> None:
    """Delete temporary files of earlier saves to `path` whose writer is gone.

    A name with a process id (``.run.pt.<pid>.<random>.tmp``) is stale when that process no longer
    runs (checked on POSIX only); any other, or any on Windows, when it is older than an hour.
    """
    prefix = f".{path.name}."
    for candidate in path.parent.glob(f"{glob.escape(prefix)}*{TEMP_SUFFIX}"):
        pid = candidate.name[len(prefix):].split(".", 1)[0]
        try:
            if pid.isdigit() and os.name == "posix":
                stale = not _process_alive(int(pid))
            else:
                stale = time.time() - candidate.stat().st_mtime > STALE_AFTER_SECONDS
            if stale:
                candidate.unlink()
        except OSError:  # gone already, or not ours to remove: leave it
            continue


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: no signal sent, only the check that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def check_loadable(value: Any, where: str) -> None:
    """Raise TypeError naming the first value `weights_only=True` would refuse to load."""
    # Exact types: subclasses (IntEnum, namedtuple, defaultdict, ...) need custom unpickling.
    if isinstance(value, torch.Tensor) or type(value) in _PLAIN_TYPES:
        return
    if type(value) in (dict, OrderedDict):
        for key, item in value.items():
            check_loadable(key, f"{where} key")
            check_loadable(item, f"{where}[{key!r}]")
        return
    if type(value) in (list, tuple, set):
        for index, item in enumerate(value):
            check_loadable(item, f"{where}[{index}]")
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
