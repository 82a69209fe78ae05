"""Fetching files into the data cache: mirrors, checksums, atomic writes, a fast offline verdict.

The cache directory is ``$GENTUT_DATA`` if set, else ``~/.cache/gentut``. A file is downloaded to
a temporary name in its final directory, its SHA-256 checked against the known value, and only
then renamed into place with ``os.replace`` -- so a failed or interrupted download never leaves a
file that looks complete. Connections time out after a few seconds, so an offline machine is
recognised quickly and the caller can fall back to the offline synthetic digits.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tempfile
import urllib.error
import urllib.request
import urllib.parse
from pathlib import Path
from typing import Callable, Sequence

__all__ = [
    "ChecksumError",
    "OfflineError",
    "cache_dir",
    "download",
    "is_offline_forced",
    "probe",
    "sha256_of",
]

CONNECT_TIMEOUT = 3.0  # seconds; long enough for a slow mirror, short enough to fail fast offline
OFFLINE_HINT = "use the offline data set instead: gentut.data.load_images('synthetic-digits')"


class OfflineError(ConnectionError):
    """No mirror could be reached: the machine seems offline (or the mirrors are down)."""


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 is not the known one."""


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    """The data cache: `root` if given, else $GENTUT_DATA, else ~/.cache/gentut."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("GENTUT_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gentut"


def is_offline_forced() -> bool:
    """True when GENTUT_OFFLINE is set to something other than "", "0", "false" or "no"."""
    value = os.environ.get("GENTUT_OFFLINE", "")
    return value.strip().lower() not in ("", "0", "false", "no")


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def probe(url: str, *, timeout: float = CONNECT_TIMEOUT) -> None:
    """One quick TCP connection to `url`'s host; raises `OfflineError` if it cannot be made.

    This finds out an offline machine in at most `timeout` seconds (plus name lookup), before
    any download starts.
    """
    if is_offline_forced():
        raise OfflineError(f"GENTUT_OFFLINE is set; {OFFLINE_HINT}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as error:  # DNS failure, refused, unreachable, timeout
        raise OfflineError(
            f"cannot reach {parts.hostname} ({error}); the machine seems offline. {OFFLINE_HINT}"
        ) from error


def _open(url: str, timeout: float):
    """The URL opener; tests replace it to simulate an offline machine."""
    return urllib.request.urlopen(url, timeout=timeout)


def _fetch(
    url: str,
    destination: Path,
    expected_sha256: str | None,
    timeout: float,
    verify: Callable[[Path], None] | None = None,
) -> None:
    """Stream `url` into a temporary file next to `destination`, verify, then rename atomically."""
    handle, temporary = tempfile.mkstemp(prefix=destination.name + ".", suffix=".part", dir=destination.parent)
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, _open(url, timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                digest.update(block)
        got = digest.hexdigest()
        if expected_sha256 is not None and got != expected_sha256.lower():
            raise ChecksumError(
                f"checksum mismatch for {destination.name} from {url}: expected sha256 "
                f"{expected_sha256}, got {got}; the bad download was discarded, nothing was written"
            )
        if verify is not None:
            verify(Path(temporary))
        os.replace(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def download(
    urls: str | Sequence[str],
    destination: str | os.PathLike,
    *,
    sha256: str | None,
    timeout: float = CONNECT_TIMEOUT,
    verify: Callable[[Path], None] | None = None,
) -> Path:
    """Fetch `destination` from the first mirror in `urls` that answers; verify its SHA-256.

    `verify(path)`, if given, checks the downloaded file further (raising `ChecksumError`) before
    it is moved into place. An existing file is kept (no network) if its checksum is right; a
    wrong one is an error that says what was found. If no mirror can be reached, raises
    `OfflineError`, whose message names the offline alternative.
    """
    destination = Path(destination)
    if isinstance(urls, str):
        urls = [urls]
    if destination.exists():
        if sha256 is not None and (got := sha256_of(destination)) != sha256.lower():
            raise ChecksumError(
                f"checksum mismatch for the existing file {destination.name}: expected sha256 "
                f"{sha256}, got {got}; gentut leaves the file as it is"
            )
        if verify is not None:
            verify(destination)
        return destination
    if is_offline_forced():
        raise OfflineError(f"GENTUT_OFFLINE is set, so {destination.name} is not downloaded; {OFFLINE_HINT}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        try:
            _fetch(url, destination, sha256, timeout, verify)
            return destination
        except ChecksumError:
            raise
        except (urllib.error.URLError, http.client.HTTPException, socket.timeout, TimeoutError, ConnectionError) as error:
            # HTTP errors (404, 5xx) are URLErrors too: try the next mirror.
            failures.append(f"{url}: {getattr(error, 'reason', error)}")
    raise OfflineError(
        f"could not download {destination.name}; the machine seems offline (or every mirror "
        f"failed) -- {'; '.join(failures)}. {OFFLINE_HINT[0].upper() + OFFLINE_HINT[1:]}"
    )
