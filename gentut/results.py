"""Results files of long runs: what a chapter quotes from a sweep it does not run itself.

A sweep over seeds or settings that takes longer than a chapter's budget runs from a committed
script (``bench/``), which writes a JSON file with its results and with the facts needed to trust
them: the command, the package version, the git commit, the seeds, the date, the seconds it took,
and a SHA-256 of every source file the numbers depend on. The chapter reads the file
(`read_results`) and shows the command; `stale_sources` names the files that changed since the
run, and the tests fail while any did, so a quoted number never outlives the code behind it.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = ["RESULTS_DIR", "results_path", "fingerprint", "write_results", "read_results", "stale_sources",
           "provenance", "ResultsError"]

FORMAT = 1


class ResultsError(RuntimeError):
    """A results file that is missing, unreadable, or of another format."""


# bench/results in a clone of the book's repository (absent from an installed package).
RESULTS_DIR = Path(__file__).resolve().parents[1] / "bench" / "results"


def results_path(name: str) -> Path:
    """Where the committed results file `name` (e.g. "baselines.json") of a bench script lives."""
    return RESULTS_DIR / name


def _root() -> Path:
    return Path(__file__).resolve().parent.parent


def fingerprint(sources: Iterable[str], *, root: str | os.PathLike | None = None) -> dict[str, str]:
    """SHA-256 of each source file, by its path relative to the repository root."""
    root = Path(root) if root is not None else _root()
    hashes = {}
    for name in sorted(set(sources)):
        path = root / name
        if not path.is_file():
            raise FileNotFoundError(f"source {name} of the results does not exist under {root}")
        hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def _commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def write_results(
    path: str | os.PathLike,
    results: dict[str, Any],
    *,
    command: str,
    seeds: list[int],
    seconds: float,
    sources: Iterable[str] | Mapping[str, str],
    root: str | os.PathLike | None = None,
) -> Path:
    """Write `results` with their provenance to `path` as JSON, atomically; return the path.

    `sources` are the files the results depend on, or their `fingerprint` taken when the run
    started (better: a file edited during a long run then shows as stale, as it should).
    """
    from gentut import __version__

    root = Path(root) if root is not None else _root()
    record = {
        "format": FORMAT,
        "command": command,
        "gentut": __version__,
        "commit": _commit(root),
        "seeds": list(seeds),
        "date": datetime.date.today().isoformat(),
        "seconds": round(float(seconds), 1),
        "sources": dict(sources) if isinstance(sources, Mapping) else fingerprint(sources, root=root),
        "results": results,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as file:
            json.dump(record, file, indent=1)
            file.write("\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def read_results(path: str | os.PathLike) -> dict[str, Any]:
    """The record `write_results` wrote: ``command``, ``seeds``, ``seconds``, ``results``, ..."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"no results file at {path}; run the script that writes it") from None
    except (OSError, ValueError) as error:
        raise ResultsError(f"{path} is not a readable results file: {error}") from error
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ResultsError(f"{path} is not a results file of format {FORMAT}")
    return record


def provenance(record: dict[str, Any]) -> str:
    """Two lines a chapter prints above numbers it quotes from `record`: the command, then the
    package version, commit, date and seconds of the run."""
    commit = (record.get("commit") or "unknown")[:10]
    return (f"$ {record['command']}\n  gentut {record['gentut']}, commit {commit}, {record['date']}, "
            f"{record['seconds']:.0f} s in all")


def stale_sources(record: dict[str, Any], *, root: str | os.PathLike | None = None) -> list[str]:
    """The source files whose contents changed (or vanished) since the results were written."""
    root = Path(root) if root is not None else _root()
    changed = []
    for name, digest in record["sources"].items():
        path = root / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            changed.append(name)
    return changed
