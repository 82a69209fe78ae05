"""Workbooks: each chapter as a notebook for working its exercises alone.

Command line (from the repository root)::

    python -m gentut.workbooks write [chapters...]   # workbooks/<name>.ipynb (default: every
                                                     # chapter in _toc.yml that has exercises)
    python -m gentut.workbooks check                 # the committed workbooks match their chapters

A chapter's workbook is the chapter with its outputs cleared, its solutions taken out, and each
coding exercise left as the function to write, followed by its checker. The function keeps its
signature; its body raises NotImplementedError, which the checker reports as one line saying what
to write (`gentut.exercises.ExerciseNotDone`), not as a traceback. Running all cells therefore
stops at the first exercise not yet done. Exercises whose solution is code without a checker get
an empty cell to work in.

Colab and a plain JupyterLab show MyST directives as raw text, so the exercise directives become
Markdown headings ("### Exercise 4.1") and references to exercises their numbers; the rest of the
chapter's MyST is kept as it is. The chapter's own cell that links to its workbook (tagged
``workbook-link``) is left out.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import posixpath
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from gentut.notebooks import find_root, read_toc, repository, resolve_entry

__all__ = ["WORKBOOK_DIR", "LINK_TAG", "chapter_numbers", "workbook", "workbook_path", "write_workbooks",
           "stale_workbooks", "main"]

WORKBOOK_DIR = "workbooks"
LINK_TAG = "workbook-link"  # the chapter's cell that links to its workbook; not copied into it
# Names a solution may use without importing them (the chapters import them in their first cells);
# the workbook's exercise cell imports them itself, so that it runs on its own.
KNOWN_IMPORTS = {
    "torch": "import torch",
    "nn": "from torch import nn",
    "F": "import torch.nn.functional as F",
    "math": "import math",
    "np": "import numpy as np",
}
DROPPED_TAGS = ("nbval-",)  # the tests' tags; raises-exception stays (Run All honours it)
# The first commit whose exercise checkers report a workbook's blank in one line (ExerciseNotDone):
# a workbook installs it, or its chapter's commit if that is later. A workbook has no outputs, so
# it need not install the package that made its chapter's.
WORKBOOK_PACKAGE = "143eb5d7393492a795387a8884f860f4f7c60d46"
_FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}\s*(?P<argument>.*)$")


def chapter_numbers(root: Path) -> dict[str, int]:
    """The number of each chapter in the toc's numbered parts, by file (without suffix), as the
    book numbers them: from 1 within each numbered part."""
    numbers: dict[str, int] = {}
    for part in read_toc(root).get("parts", []):
        if part.get("numbered"):
            for k, chapter in enumerate(part.get("chapters", []), start=1):
                numbers[str(chapter["file"])] = k
    return numbers


@dataclass
class _Directive:
    name: str
    argument: str
    options: dict[str, str]
    body: str
    raw: str  # the block as written, fences included


def _split(text: str) -> list[str | _Directive]:
    """Markdown text as plain runs and top-level MyST directive blocks (``` or ::: fences)."""
    lines = text.split("\n")
    out: list[str | _Directive] = []
    plain: list[str] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            plain.append(lines[i])
            i += 1
            continue
        fence = match["fence"]
        end = i + 1
        # The block ends at a line of the same fence character, at least as long as the opening.
        while end < len(lines) and not re.fullmatch(re.escape(fence[0]) + "{%d,}\\s*" % len(fence), lines[end]):
            end += 1
        if end == len(lines):
            raise ValueError(f"a {{{match['name']}}} block is not closed: {lines[i]!r}")
        body = lines[i + 1:end]
        options = {}
        while body and (m := re.match(r"^:([\w-]+):\s*(.*)$", body[0])):
            options[m[1]] = m[2]
            body = body[1:]
        if plain:
            out.append("\n".join(plain))
            plain = []
        out.append(_Directive(match["name"], match["argument"].strip(), options, "\n".join(body).strip("\n"),
                              "\n".join(lines[i:end + 1])))
        i = end + 1
    if plain:
        out.append("\n".join(plain))
    return out


@dataclass
class _State:
    chapter: int | None
    labels: dict[str, str] = field(default_factory=dict)  # exercise label -> "4.1"
    count: int = 0
    in_solution: str | None = None  # the exercise whose solution-start..solution-end we are in


def _number(state: _State) -> str:
    state.count += 1
    return f"{state.chapter}.{state.count}" if state.chapter is not None else str(state.count)


def _markdown(text: str, state: _State) -> str:
    """A markdown cell's text for the workbook."""
    kept: list[str] = []
    for part in _split(text):
        if isinstance(part, str):
            if state.in_solution is None:
                kept.append(part)
            continue
        if part.name == "exercise":
            number = _number(state)
            if "label" in part.options:
                state.labels[part.options["label"]] = number
            title = f"### Exercise {number}" + (f": {part.argument}" if part.argument else "")
            kept.append(f"{title}\n\n{part.body}")
        elif part.name == "solution-start":
            state.in_solution = part.argument
        elif part.name == "solution-end":
            state.in_solution = None
        elif part.name == "solution":
            continue
        elif state.in_solution is None:
            kept.append(part.raw)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")


def _free_names(tree: ast.Module) -> set[str]:
    import builtins

    bound = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return used - bound


def _is_check_call(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name) and node.value.func.id.startswith("check_"))


def stub_source(source: str, number: str) -> str | None:
    """A solution cell as the workbook's exercise cell: its imports, each ``my_*`` function with
    its body replaced by ``raise NotImplementedError``, and its checker calls. None when the cell
    has no checked function (a free-form solution)."""
    tree = ast.parse(source)
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("my_")]
    checks = [n for n in tree.body if _is_check_call(n)]
    if not functions or not checks:
        return None
    free = _free_names(tree)
    unknown = sorted(free - set(KNOWN_IMPORTS))
    if unknown:
        raise ValueError(f"Exercise {number}: the solution uses {unknown}, which it does not import and the "
                         f"workbook cannot import for it; import them in the solution cell")
    lines = source.split("\n")
    imports = [KNOWN_IMPORTS[name] for name in sorted(free)]
    imports += [ast.get_source_segment(source, n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    ours = [line for line in imports if re.match(r"(from|import) gentut\b", line)]
    theirs = [line for line in imports if line not in ours]
    stubs = []
    for fn in functions:
        first = fn.body[0]
        indent = " " * first.col_offset
        if first.lineno == fn.lineno:
            raise ValueError(f"Exercise {number}: write the body of {fn.name} on lines of its own, "
                             f"not on the line of its def")
        # The decorators and the signature (which may span lines), and the docstring if any; not
        # the comments and code of the solution's body.
        top = min([d.lineno for d in fn.decorator_list] + [fn.lineno])
        end = fn.lineno
        while end < first.lineno - 1:
            try:
                ast.parse("\n".join(lines[top - 1:end]) + "\n" + indent + "pass")
                break
            except SyntaxError:
                end += 1
        head = lines[top - 1:end]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            head += lines[first.lineno - 1:first.end_lineno]
        stubs.append("\n".join(head) + f'\n{indent}raise NotImplementedError("Exercise {number}: your code replaces this line")')
    calls = [ast.get_source_segment(source, n) for n in checks]
    header = "\n\n".join("\n".join(group) for group in (theirs, ours) if group)
    return header + "\n\n\n" + "\n\n\n".join(stubs) + "\n\n\n" + "\n".join(calls)


def _code_cell(source: str) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": source.splitlines(keepends=True)}


def _markdown_cell(source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": source.splitlines(keepends=True)}


def workbook(nb: dict[str, Any], *, chapter: int | None, chapter_url: str) -> dict[str, Any]:
    """The workbook of a chapter notebook (nbformat 4 JSON, not changed): see the module's text.

    Args:
        nb: the chapter as stored.
        chapter: its number in the book (exercises are numbered "chapter.k"), or None.
        chapter_url: where the chapter with its solutions can be read, named in the workbook.
    """
    state = _State(chapter)
    cells: list[dict[str, Any]] = []
    scratch_added: set[str] = set()
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        tags = cell.get("metadata", {}).get("tags", [])
        if LINK_TAG in tags:
            continue
        if cell["cell_type"] == "markdown":
            text = _markdown(source, state)
            if text.strip():
                cells.append(_markdown_cell(text))
            continue
        if cell["cell_type"] != "code":
            continue
        if state.in_solution is None:
            new = _code_cell(source)
            kept_tags = [t for t in tags if not t.startswith(DROPPED_TAGS)]
            if kept_tags:
                new["metadata"]["tags"] = kept_tags
            cells.append(new)
            continue
        number = state.labels.get(state.in_solution, "?")
        stub = stub_source(source, number)
        if stub is not None:
            cells.append(_code_cell(stub))
        elif number not in scratch_added:  # a free-form solution: the reader gets a cell of their own
            scratch_added.add(number)
            cells.append(_code_cell(f"# Exercise {number}: your code"))
    if state.in_solution is not None:
        raise ValueError(f"the solution of {state.in_solution} has no solution-end")
    # References to exercises by label read as their numbers, and links relative to the chapter's
    # folder (which the workbook is not in) point to the repository's copy.
    folder = chapter_url.rsplit("/", 1)[0]
    scheme, _, address = folder.partition("://")

    def absolute(match: re.Match) -> str:
        return f"]({scheme}://{posixpath.normpath(address + '/' + match[1])})"

    for cell in cells:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            text = re.sub(r"\{ref\}`([^`<]+)`",
                          lambda m: f"Exercise {state.labels[m[1]]}" if m[1] in state.labels else m[0], text)
            text = re.sub(r"\]\((?![a-z]+:|#)([^)\s]+)\)", absolute, text)
            cell["source"] = text.splitlines(keepends=True)
    title = "".join(cells[0]["source"]) if cells and cells[0]["cell_type"] == "markdown" else ""
    if title.startswith("# "):
        first_line, _, rest = title.partition("\n")
        cells[0]["source"] = (f"{first_line}: workbook\n{rest}").splitlines(keepends=True)
    note = textwrap.fill(
        f"*This is the chapter's workbook.* The outputs are cleared and the solutions taken out. "
        f"Each coding exercise is a function for you to write, followed by its checker: run all "
        f"cells, and the notebook stops at the first exercise not yet done. The chapter with its "
        f"worked solutions: <{chapter_url}>.", width=100, break_long_words=False, break_on_hyphens=False)
    cells.insert(1 if title.startswith("# ") else 0, _markdown_cell(note))
    for k, cell in enumerate(cells):  # nbformat 4.5 wants ids; fixed ones keep the file stable
        cell["id"] = f"workbook-{k}"
    out = {key: copy.deepcopy(value) for key, value in nb.items() if key != "cells"}
    out["metadata"] = {k: v for k, v in out.get("metadata", {}).items() if k in ("kernelspec", "language_info")}
    out["cells"] = cells
    return out


_repository = repository  # the book's address and branch, read where the install cells read it


def workbook_path(root: Path, chapter: Path) -> Path:
    return root / WORKBOOK_DIR / f"{chapter.stem}.ipynb"


def _chapters(root: Path, paths: Sequence[str] = ()) -> list[tuple[Path, int | None]]:
    numbers = chapter_numbers(root)
    out = []
    entries = [e for part in read_toc(root).get("parts", []) for e in
               (str(c["file"]) for c in part.get("chapters", []))]
    for entry in entries:
        path = resolve_entry(root, entry)
        if path.suffix != ".ipynb" or (paths and str(path.relative_to(root)) not in paths):
            continue
        if "{exercise}" in path.read_text(encoding="utf-8"):
            out.append((path, numbers.get(entry)))
    return out


def _render(root: Path, chapter: Path, number: int | None) -> str:
    url, branch = _repository(root)
    nb = json.loads(chapter.read_text(encoding="utf-8"))
    rel = chapter.relative_to(root).as_posix()
    book = workbook(nb, chapter=number, chapter_url=f"{url}/blob/{branch}/{rel}")
    _pin_workbook(root, book)
    return json.dumps(book, indent=1, ensure_ascii=False) + "\n"


def _pin_workbook(root: Path, book: dict[str, Any]) -> None:
    """Install WORKBOOK_PACKAGE, unless the chapter's own commit is later (git decides)."""
    import nbformat

    from gentut.notebooks import colab_pin, pin_notebook

    node = nbformat.reads(json.dumps(book), as_version=4)  # sources as strings, as colab_pin reads them
    pinned = colab_pin(node)
    if pinned is None or pinned[1] == WORKBOOK_PACKAGE:
        return
    later = subprocess.run(["git", "merge-base", "--is-ancestor", WORKBOOK_PACKAGE, pinned[1]], cwd=root,
                           capture_output=True).returncode == 0
    if not later:
        pin_notebook(node, pinned[0], WORKBOOK_PACKAGE)
        for cell, new in zip(book["cells"], node.cells):
            if cell["cell_type"] == "code":
                source = new.source.replace("at the commit that produced this page's outputs",
                                            "at a commit whose checkers know the workbooks")
                cell["source"] = source.splitlines(keepends=True)


def write_workbooks(root: Path, paths: Sequence[str] = ()) -> list[Path]:
    """Write the workbooks of the toc's chapters with exercises (or of `paths`); their paths."""
    written = []
    for chapter, number in _chapters(root, paths):
        target = workbook_path(root, chapter)
        target.parent.mkdir(exist_ok=True)
        target.write_text(_render(root, chapter, number), encoding="utf-8")
        written.append(target)
    return written


def stale_workbooks(root: Path) -> list[str]:
    """Workbooks missing or not what their chapter gives now (run ``make workbooks``)."""
    problems = []
    expected = set()
    for chapter, number in _chapters(root):
        target = workbook_path(root, chapter)
        expected.add(target.name)
        if not target.is_file():
            problems.append(f"{target.relative_to(root)} is missing")
        elif target.read_text(encoding="utf-8") != _render(root, chapter, number):
            problems.append(f"{target.relative_to(root)} is older than {chapter.relative_to(root)}")
    folder = root / WORKBOOK_DIR
    if folder.is_dir():
        problems += [f"{p.relative_to(root)} belongs to no chapter" for p in sorted(folder.glob("*.ipynb"))
                     if p.name not in expected]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gentut.workbooks", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("write", help=f"write {WORKBOOK_DIR}/<chapter>.ipynb")
    write.add_argument("paths", nargs="*", help="chapter notebooks (default: every one with exercises)")
    commands.add_parser("check", help="the committed workbooks match their chapters")
    args = parser.parse_args(argv)
    root = find_root()
    if args.command == "write":
        for path in write_workbooks(root, args.paths):
            print(path.relative_to(root))
        return 0
    problems = stale_workbooks(root)
    for problem in problems:
        print(f"{problem}: run `make workbooks`", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
