"""Fetching files into the data cache: mirrors, checksums, atomic writes, a fast offline verdict.

The cache directory is ``$GENTUT_DATA`` if set, else ``~/.cache/gentut``. A file is downloaded to
a temporary name in its final directory, its SHA-256 checked against the known value, and only
then renamed into place with ``os.replace`` -- so a failed or interrupted download never leaves a
file that looks complete. Connections time out after a few seconds, so an offline machine is
recognised quickly and the caller can fall back to the offline synthetic digits.

A transfer is also checked against what the server announced: fewer bytes than its
Content-Length is a cut transfer (the HTTP client returns short reads without an error), more
than ``max_bytes`` or longer than ``deadline`` seconds in all is refused. Any bad fresh download
(cut, too big, too slow, or failing its checksum) moves on to the next mirror; when every mirror
failed and one of them served a bad file, `BadDownloadError` says what each one did. It is an
`OfflineError`, so callers that fall back to offline data do, and a `ChecksumError`. A bad file
already in the cache is an error of its own that names the file, not something to fall back from.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tempfile
import time
import urllib.error
import urllib.request
import urllib.parse
from pathlib import Path
from typing import Callable, Sequence

__all__ = [
    "BadDownloadError",
    "ChecksumError",
    "TransferError",
    "OfflineError",
    "cache_dir",
    "download",
    "is_offline_forced",
    "probe",
    "sha256_of",
]

CONNECT_TIMEOUT = 3.0  # seconds; long enough for a slow mirror, short enough to fail fast offline
DEADLINE = 600.0  # seconds for one whole transfer: MNIST's largest file is 9.9 MB
MAX_BYTES = 256 << 20  # bytes in one transfer: 25 times MNIST's largest file
OFFLINE_HINT = "use the offline data set instead: gentut.data.load_images('synthetic-digits')"


class OfflineError(ConnectionError):
    """No mirror could be reached: the machine seems offline (or the mirrors are down)."""


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 is not the known one."""


class TransferError(ConnectionError):
    """A transfer that went wrong on the way: cut short, larger than allowed, or too slow."""


class BadDownloadError(OfflineError, ChecksumError):
    """Every mirror failed, and at least one served a bad file (cut, too big, or the wrong bytes)."""


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


def _announced_size(response: object) -> int | None:
    """The Content-Length the server sent, or None (no header, chunked transfer, a file URL)."""
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    return int(value) if value is not None and str(value).strip().isdigit() else None


def _fetch(
    url: str,
    destination: Path,
    expected_sha256: str | None,
    timeout: float,
    verify: Callable[[Path], None] | None = None,
    *,
    deadline: float = DEADLINE,
    max_bytes: int = MAX_BYTES,
) -> None:
    """Stream `url` into a temporary file next to `destination`, verify, then rename atomically."""
    handle, temporary = tempfile.mkstemp(prefix=destination.name + ".", suffix=".part", dir=destination.parent)
    started = time.monotonic()
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, _open(url, timeout) as response:
            announced = _announced_size(response)
            if announced is not None and announced > max_bytes:
                raise TransferError(f"{url} announces {announced:,} bytes, more than the {max_bytes:,} allowed")
            received = 0
            for block in iter(lambda: response.read(1 << 20), b""):
                received += len(block)
                if received > max_bytes:
                    raise TransferError(f"{url} sent more than the {max_bytes:,} bytes allowed")
                if time.monotonic() - started > deadline:
                    raise TransferError(f"{url} took longer than {deadline:.0f} s in all ({received:,} bytes so far)")
                out.write(block)
                digest.update(block)
            if announced is not None and received != announced:
                raise TransferError(f"the transfer from {url} was cut short: {received:,} of the "
                                    f"{announced:,} bytes announced")
        got = digest.hexdigest()
        if expected_sha256 is not None and got != expected_sha256.lower():
            raise ChecksumError(
                f"checksum mismatch for {destination.name} from {url}: expected sha256 "
                f"{expected_sha256}, got {got}; the bad download was discarded, nothing was written"
            )
        if verify is not None:
            try:
                verify(Path(temporary))
            except ValueError as error:  # ChecksumError, or a file that does not even parse
                # The checker's own message is about a file a reader placed (it names the
                # temporary file and says it was left alone); this one was downloaded and is discarded.
                raise ChecksumError(
                    f"{url} served other contents than the pinned release (a captive portal's page, another "
                    f"version?): {type(error).__name__} from the content check; the download was discarded"
                ) from error
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
    deadline: float = DEADLINE,
    max_bytes: int = MAX_BYTES,
) -> Path:
    """Fetch `destination` from the first mirror in `urls` that gives a good copy; verify its SHA-256.

    `verify(path)`, if given, checks the downloaded file further (raising `ChecksumError`) before
    it is moved into place. An existing file is kept (no network) if its checksum is right; a
    wrong one is an error that says what was found. A bad transfer from one mirror (see the module
    docstring) moves on to the next. If no mirror can be reached, raises `OfflineError`, whose
    message names the offline alternative; if one served a bad file, `BadDownloadError`.
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
    bad_file = False
    for url in urls:
        try:
            _fetch(url, destination, sha256, timeout, verify, deadline=deadline, max_bytes=max_bytes)
            return destination
        except (ChecksumError, TransferError) as error:  # a mirror that answered with a bad file
            bad_file = True
            failures.append(str(error))
        except (urllib.error.URLError, http.client.HTTPException, socket.timeout, TimeoutError, ConnectionError) as error:
            # HTTP errors (404, 5xx) are URLErrors too: try the next mirror.
            failures.append(f"{url}: {getattr(error, 'reason', error)}")
    if bad_file:
        raise BadDownloadError(
            f"no mirror gave a good copy of {destination.name}, nothing was written -- {'; '.join(failures)}. "
            f"{OFFLINE_HINT[0].upper() + OFFLINE_HINT[1:]}"
        )
    raise OfflineError(
        f"could not download {destination.name}; the machine seems offline (or every mirror "
        f"failed) -- {'; '.join(failures)}. {OFFLINE_HINT[0].upper() + OFFLINE_HINT[1:]}"
    )
