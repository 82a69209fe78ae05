"""The book's notebooks: list them from ``_toc.yml``, run them and store clean outputs, check them.

The table of contents is the one list of chapters: the Makefile tests, executes and checks exactly
the notebooks it names, so a new chapter is covered by adding it to ``_toc.yml``.

Command line (from the repository root)::

    python -m gentut.notebooks list                 # the toc's notebooks, in reading order
    python -m gentut.notebooks execute [paths...]   # re-run them (profile cpu unless
                                                    # GENTUT_PROFILE is set), store clean outputs
    python -m gentut.notebooks check [paths...]     # stored outputs come from a real, clean run
    python -m gentut.notebooks pin [paths...]       # point the Colab install cells at _config.yml's
                                                    # repository, at each run's recorded commit

Stored outputs are what the book renders, so `execute` cleans them the way a reader's terminal
would show them: a text progress bar that redraws itself with carriage returns is stored as its
final state, and a run that printed an error or a warning is refused rather than committed.

A chapter's first code cell installs the package when it runs in Colab. It installs the commit
whose package produced the stored outputs, not the moving head: `execute` runs only on a
committed package (gentut/ and pyproject.toml as in HEAD), writes HEAD's commit and the address in
_config.yml into that cell before running, and records the commit with the run; `check` verifies
that the cell and the record agree.

Nothing runs at import; PyYAML, nbformat and nbclient (installed with the ``book`` and ``dev``
extras) are imported only when a function needs them.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

__all__ = [
    "find_root",
    "toc_entries",
    "resolve_entry",
    "toc_notebooks",
    "resolve_carriage_returns",
    "merge_streams",
    "clean_outputs",
    "find_problems",
    "check_notebook",
    "colab_pin",
    "pin_notebook",
    "repository",
    "repository_url",
    "package_commit",
    "execute_notebook",
    "main",
]

TOC_NAME = "_toc.yml"
# A chapter's whole run in the cpu profile, on 2 CPU cores: the book's time budget.
CPU_BUDGET_SECONDS = 15 * 60
RUN_KEY = "gentut"  # notebook metadata: nb.metadata["gentut"]["run"] = {...}
ALLOWED_ERROR_TAG = "raises-exception"  # the tag myst-nb, nbclient and nbval all honour
SKIP_TAGS = frozenset({"skip-execution"})  # cells nbclient does not run
BOOK_PROFILES = ("cpu", "gpu")  # profiles whose outputs may be committed (never smoke)
FORBIDDEN_TEXT = ("Traceback", "Warning", "Errno")  # errors, warnings, and exception text such as "[Errno -2]"
# The machine that ran a notebook must not show in its outputs: home folders and temporary paths.
LOCAL_PATH = re.compile(r"(?<![\w~.])(/home/|/root/|/Users/|/tmp/|/var/folders/|[A-Z]:\\Users\\)")
DEFAULT_CELL_TIMEOUT = 3600  # seconds; generous: a cpu-profile training cell takes minutes
# The Colab install cell: the first code cell that mentions google.colab. It names the repository
# (a GitHub address) and one commit; both are rewritten by `pin_notebook`.
COLAB_MARK = '"google.colab" in sys.modules'
REPOSITORY_URL = re.compile(r"https://github\.com/[\w.-]+/[\w-]+(?:\.[\w-]+)*?(?=[@\s\"']|\.git\b|$)")
COMMIT = re.compile(r"\b[0-9a-f]{40}\b")
# What the install cell installs, and the results files the closing chapter reads from its clone.
PACKAGE_FILES = ("gentut", "pyproject.toml", "bench/results")


# --------------------------------------------------------------------------- the table of contents


def find_root(start: str | Path | None = None) -> Path:
    """The repository root: the first folder at or above `start` (default: cwd) holding _toc.yml."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / TOC_NAME).is_file():
            return folder
    raise FileNotFoundError(f"expected a {TOC_NAME} in {here} or a folder above it, found none")


def toc_entries(toc: dict[str, Any]) -> list[str]:
    """Every ``file`` a jb-book toc names (root first, then parts, chapters, sections), in order."""
    if not isinstance(toc, dict) or "root" not in toc:
        raise ValueError(f"expected a jb-book toc (a mapping with a 'root' key), got {toc!r:.80}")
    entries = [str(toc["root"])]

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if "file" in item:
                entries.append(str(item["file"]))
            for key in ("parts", "chapters", "sections"):
                walk(item.get(key, []))

    for key in ("parts", "chapters"):
        walk(toc.get(key, []))
    return entries


def read_toc(root: Path) -> dict[str, Any]:
    import yaml

    with open(root / TOC_NAME, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def resolve_entry(root: Path, entry: str) -> Path:
    """The file a toc entry names: as written if it has a suffix, else .ipynb, then .md."""
    path = root / entry
    candidates = [path] if path.suffix in (".ipynb", ".md") else [
        path.with_name(path.name + ".ipynb"),
        path.with_name(path.name + ".md"),
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    names = ", ".join(str(c.relative_to(root)) for c in candidates)
    raise FileNotFoundError(f"{TOC_NAME} names {entry!r}, but none of {names} exists")


def toc_notebooks(root: Path | None = None) -> list[Path]:
    """The notebooks (.ipynb) the toc names, in reading order, relative to `root`."""
    root = find_root() if root is None else Path(root)
    files = (resolve_entry(root, entry) for entry in toc_entries(read_toc(root)))
    return [path.relative_to(root) for path in files if path.suffix == ".ipynb"]


# --------------------------------------------------------------------------- cleaning outputs


def resolve_carriage_returns(text: str) -> str:
    """Show `text` as a terminal would: on each line keep only what follows the last ``\\r``.

    A text progress bar redraws itself with ``\\r``, so it is stored as its final state. A line
    ending in ``\\r\\n`` (a Windows line end) keeps its text, and a line a progress bar blanked
    out with spaces becomes empty.
    """
    lines = []
    for line in text.split("\n"):
        if "\r" in line:
            line = line.rstrip("\r").rsplit("\r", 1)[-1]
            if not line.strip():
                line = ""
        lines.append(line)
    return "\n".join(lines)


def merge_streams(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge consecutive stream outputs of the same name (stdout or stderr) into one."""
    merged: list[dict[str, Any]] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.get("output_type") == "stream"
            and previous is not None
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            previous["text"] = _text(previous) + _text(output)
        else:
            merged.append(output)
    return merged


def _text(output: dict[str, Any]) -> str:
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else text


def clean_outputs(nb: Any) -> Any:
    """Clean `nb`'s outputs in place and return it.

    Streams are merged and carriage returns resolved (a progress bar keeps its last state);
    stderr streams left empty are dropped; per-cell execution timestamps are removed so a re-run
    changes only what the run changed.
    """
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        outputs = merge_streams(list(cell.get("outputs", [])))
        for output in outputs:
            if output.get("output_type") == "stream":
                output["text"] = resolve_carriage_returns(_text(output))
        cell["outputs"] = [
            output
            for output in outputs
            if not (
                output.get("output_type") == "stream"
                and output.get("name") == "stderr"
                and not _text(output).strip()
            )
        ]
        cell.get("metadata", {}).pop("execution", None)
    return nb


# --------------------------------------------------------------------------- finding problems


def _tags(cell: dict[str, Any]) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _output_texts(output: dict[str, Any]) -> Iterator[str]:
    """The human-readable text of one output: a stream's text, a result's text/plain."""
    if output.get("output_type") == "stream":
        yield _text(output)
    data = output.get("data", {})
    if "text/plain" in data:
        plain = data["text/plain"]
        yield "".join(plain) if isinstance(plain, list) else plain


def find_problems(nb: Any) -> list[str]:
    """Errors a reader should not see: error outputs (unless the cell is tagged
    raises-exception), "Traceback", "Warning" or "Errno" in printed text, and paths of the machine
    that ran the notebook (home folders, /tmp). One message per problem."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        allowed_error = ALLOWED_ERROR_TAG in _tags(cell)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                if not allowed_error:
                    problems.append(
                        f"cell {index}: error output {output.get('ename')}: {output.get('evalue')}"
                        f" (tag the cell {ALLOWED_ERROR_TAG!r} if it is meant to raise)"
                    )
                continue
            for text in _output_texts(output):
                for word in FORBIDDEN_TEXT:
                    if word in text:
                        line = next(line for line in text.splitlines() if word in line)
                        problems.append(f"cell {index}: output contains {word!r}: {line.strip()}")
                if match := LOCAL_PATH.search(text):
                    line = next(line for line in text.splitlines() if LOCAL_PATH.search(line))
                    problems.append(f"cell {index}: output shows a local path {match.group(0)!r}: {line.strip()}")
    return problems


def check_notebook(nb: Any) -> list[str]:
    """Problems showing that `nb`'s stored outputs are not from one real, clean run.

    A real run (by `execute_notebook` in the cpu or gpu profile) numbers every non-empty code cell
    1, 2, 3, ... from a fresh kernel, records ``metadata.gentut.run``, and shows no errors,
    tracebacks or warnings. Cells tagged skip-execution are not run and are not counted.
    """
    problems = []
    run = nb.metadata.get(RUN_KEY, {}).get("run")
    if not run:
        problems.append(f"no metadata.{RUN_KEY}.run: run it with `python -m gentut.notebooks execute`")
    elif run.get("profile") not in BOOK_PROFILES:
        problems.append(
            f"metadata.{RUN_KEY}.run.profile must be one of {BOOK_PROFILES}, got {run.get('profile')!r}"
        )
    elif run.get("profile") == "cpu" and run.get("seconds", 0) > CPU_BUDGET_SECONDS:
        problems.append(
            f"the stored run took {run['seconds']:.0f} s in the cpu profile, over the book's budget of "
            f"{CPU_BUDGET_SECONDS} s per chapter: move the longest runs into a bench/ script's results file"
        )
    try:
        pin = colab_pin(nb)
    except ValueError as error:
        problems.append(str(error))
        pin = None
    if pin is not None and run and pin[1] != run.get("commit"):
        problems.append(
            f"the Colab install cell installs commit {pin[1][:12]}, but the stored outputs come from "
            f"{str(run.get('commit'))[:12]} (metadata.{RUN_KEY}.run.commit): re-run the notebook"
        )
    expected = 1
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code" or not cell.get("source", "").strip():
            continue
        if _tags(cell) & SKIP_TAGS:
            continue
        count = cell.get("execution_count")
        if count != expected:
            problems.append(
                f"cell {index}: execution_count {count!r}, expected {expected} "
                "(every code cell run once, in order, from a fresh kernel)"
            )
            break
        expected += 1
    return problems + find_problems(nb)


# --------------------------------------------------------------------------- the Colab install cell


def _colab_cell(nb: Any) -> dict[str, Any] | None:
    for cell in nb.cells:
        if cell.get("cell_type") == "code" and COLAB_MARK in cell.get("source", ""):
            return cell
    return None


def colab_pin(nb: Any) -> tuple[str, str] | None:
    """The (repository address, commit) the notebook's Colab install cell installs, or None when
    it has no such cell. Raises ValueError for a cell that names no commit or several."""
    cell = _colab_cell(nb)
    if cell is None:
        return None
    source = cell["source"]
    commits, urls = set(COMMIT.findall(source)), set(REPOSITORY_URL.findall(source))
    if len(commits) != 1 or len(urls) != 1:
        raise ValueError(f"the Colab install cell must name one repository and one commit, found "
                         f"{sorted(urls)} and {sorted(commits)}:\n{source}")
    return urls.pop(), commits.pop()


def pin_notebook(nb: Any, url: str, commit: str) -> bool:
    """Point the Colab install cell at `url` and `commit`; True if it changed. Raises ValueError
    for an address that is not a GitHub repository's or a commit that is not a full SHA-1."""
    if not REPOSITORY_URL.fullmatch(url) or url.endswith(".git"):
        raise ValueError(f"expected a repository address like https://github.com/owner/name, got {url!r}")
    if not COMMIT.fullmatch(commit):
        raise ValueError(f"expected a full 40-character commit, got {commit!r}")
    old = colab_pin(nb)
    if old is None:
        return False
    cell = _colab_cell(nb)
    source = REPOSITORY_URL.sub(url, COMMIT.sub(commit, cell["source"]))
    changed = source != cell["source"]
    cell["source"] = source
    return changed


def repository(root: Path) -> tuple[str, str]:
    """The repository address and branch in _config.yml (what the launch buttons, install cells
    and workbook links use)."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]
    return str(repo["url"]).rstrip("/").removesuffix(".git"), str(repo.get("branch", "main"))


def repository_url(root: Path) -> str:
    """The repository address in _config.yml."""
    return repository(root)[0]


def _git(root: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {root}: {out.stderr.strip()}")
    return out.stdout.strip()


def package_commit(root: Path) -> str:
    """HEAD's commit, when the package in the work tree is HEAD's; else RuntimeError naming the
    changed files (the outputs would come from code no commit holds)."""
    changed = _git(root, "status", "--porcelain", "--", *PACKAGE_FILES)
    if changed:
        raise RuntimeError(
            "the package has changes no commit holds, so no commit could be named as the one that "
            "produced the outputs; commit them first:\n  " + changed.replace("\n", "\n  "))
    return _git(root, "rev-parse", "HEAD")


# --------------------------------------------------------------------------- running


def _environment(**defaults: str) -> contextlib.AbstractContextManager[None]:
    """Set environment variables that are not already set, for the duration of the block."""
    return environment(**{name: value for name, value in defaults.items() if name not in os.environ})


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables (a kernel started inside inherits them) for the duration of the
    block, then put back what was there before, set or unset."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def code_sha256(nb: Any) -> str:
    """SHA-256 of a notebook's code cells' sources, in order (outputs and prose left out): what a
    measurement of the notebook's run depends on in the notebook itself."""
    digest = hashlib.sha256()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            digest.update(source.encode() + b"\0")
    return digest.hexdigest()


def kernel_peak_mb(client: Any) -> float | None:
    """The peak resident memory of `client`'s kernel process so far, in MB (Linux's VmHWM in
    /proc), or None where it cannot be read (another system, a remote kernel)."""
    try:
        pid = client.km.provisioner.process.pid
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except (AttributeError, OSError, ValueError):
        return None
    return None


class PeakMemory:
    """An nbclient ``on_cell_executed`` hook that keeps the kernel's peak memory (MB) after each
    cell, so the last reading, taken before the kernel shuts down, is the run's peak."""

    def __init__(self) -> None:
        self.client: Any = None
        self.mb: float | None = None

    def __call__(self, **_: Any) -> None:
        if self.client is not None:
            reading = kernel_peak_mb(self.client)
            if reading is not None:
                self.mb = max(self.mb or 0.0, reading)


def _run_record(profile: str, seconds: float, commit: str | None, peak_mb: float | None = None) -> dict[str, Any]:
    import torch

    from gentut.device import pick_device

    record = {
        "profile": profile,
        "seconds": round(seconds, 1),
        "device": str(pick_device()),
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
    }
    if peak_mb is not None:
        record["peak_memory_mb"] = round(peak_mb)  # the kernel's peak resident memory
    if commit is not None:
        record["commit"] = commit  # the package that produced the outputs; the install cell's pin
    return record


def execute_notebook(path: str | Path, *, timeout: int = DEFAULT_CELL_TIMEOUT) -> dict[str, Any]:
    """Run the notebook at `path` on a fresh ``python3`` kernel in its own folder, clean its
    outputs and write it back; return the run record stored in ``metadata.gentut.run``.

    The profile is GENTUT_PROFILE if set, else cpu (the profile the book renders). Raises
    RuntimeError, leaving the file untouched, if a cell fails or an output shows a problem.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    with _environment(GENTUT_PROFILE="cpu"):
        profile = os.environ["GENTUT_PROFILE"]
        commit = None
        if colab_pin(nb) is not None:
            # The outputs are committed for readers, and Colab installs the package they came from.
            root = find_root(path.parent)
            commit = package_commit(root)
            pin_notebook(nb, repository_url(root), commit)
        peak = PeakMemory()
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent.resolve())}},
            record_timing=False,
            on_cell_executed=peak,  # after the reply (on_cell_complete runs when the request is sent)
        )
        peak.client = client
        start = time.perf_counter()
        try:
            client.execute()
        except CellExecutionError as error:
            raise RuntimeError(f"{_shown(path)}: a cell failed; the file is left as it was\n{error}") from None
        seconds = time.perf_counter() - start
    clean_outputs(nb)
    problems = find_problems(nb)
    if problems:
        listing = "\n  ".join(problems)
        raise RuntimeError(f"{_shown(path)}: outputs show problems; the file is left as it was\n  {listing}")
    record = _run_record(profile, seconds, commit, peak.mb)
    nb.metadata.setdefault(RUN_KEY, {})["run"] = record
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return record


# --------------------------------------------------------------------------- command line


def _paths(arguments: Sequence[str], root: Path) -> list[Path]:
    if arguments:
        return [Path(argument) for argument in arguments]
    return [root / path for path in toc_notebooks(root)]


def _shown(path: Path) -> str:
    """`path` relative to the working folder when it lies below it (shorter messages)."""
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def _describe(record: dict[str, Any]) -> str:
    return (
        f"{record['seconds']:.1f} s, profile {record['profile']}, device {record['device']}, "
        f"torch {record['torch']}, {record['date']}"
        + (f", peak memory {record['peak_memory_mb']:,} MB" if "peak_memory_mb" in record else "")
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gentut.notebooks", description=__doc__.split("\n")[0])
    parser.add_argument("--root", help="repository root (default: the folder holding _toc.yml)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="print the toc's notebooks, one per line, in reading order")
    execute = commands.add_parser("execute", help="re-run notebooks and store clean outputs")
    execute.add_argument("paths", nargs="*", help="notebooks (default: every one in the toc)")
    execute.add_argument("--timeout", type=int, default=DEFAULT_CELL_TIMEOUT, help="seconds per cell")
    check = commands.add_parser("check", help="check stored outputs come from a real, clean run")
    check.add_argument("paths", nargs="*", help="notebooks (default: every one in the toc)")
    pin = commands.add_parser("pin", help="point the Colab install cells at _config.yml's repository")
    pin.add_argument("paths", nargs="*", help="notebooks (default: every one in the toc)")
    args = parser.parse_args(argv)
    root = find_root(args.root)

    if args.command == "list":
        for path in toc_notebooks(root):
            print(path.as_posix())
        return 0
    if args.command == "execute":
        failed = 0
        for path in _paths(args.paths, root):
            print(f"{_shown(path)}: running ...", flush=True)
            try:
                record = execute_notebook(path, timeout=args.timeout)
                print(f"{_shown(path)}: {_describe(record)}", flush=True)
            except RuntimeError as error:
                print(error, file=sys.stderr, flush=True)
                failed += 1
        return 1 if failed else 0
    import nbformat

    if args.command == "pin":
        # Only the address changes (a fork's, say): the commit stays the recorded run's.
        url = repository_url(root)
        for path in _paths(args.paths, root):
            nb = nbformat.read(path, as_version=4)
            pinned = colab_pin(nb)
            if pinned is not None and pin_notebook(nb, url, pinned[1]):
                nbformat.write(nb, path)
                print(f"{_shown(path)}: installs {url} at {pinned[1][:12]}")
        return 0
    failed = 0
    url = repository_url(root)
    for path in _paths(args.paths, root):
        nb = nbformat.read(path, as_version=4)
        problems = check_notebook(nb)
        with contextlib.suppress(ValueError):  # check_notebook reports a malformed cell
            pinned = colab_pin(nb)
            if pinned is not None and pinned[0] != url:
                problems.append(f"the Colab install cell installs from {pinned[0]}, but _config.yml's "
                                f"repository is {url}: run `python -m gentut.notebooks pin`")
        for problem in problems:
            print(f"{_shown(path)}: {problem}", file=sys.stderr)
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
