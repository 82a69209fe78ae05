"""Workbooks (gentut.workbooks, `make workbooks`): up to date with their chapters, free of
solutions, passing every checker once the chapter's solutions are filled back in, and stopping at
the first exercise, with one friendly line, when left blank."""
from __future__ import annotations

import ast
import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from gentut import workbooks
from gentut.exercises import ExerciseNotDone, check_generator_loss
from gentut.notebooks import find_root

ROOT = find_root(Path(__file__).parent)
CHAPTERS = workbooks._chapters(ROOT)


def _cells(path: Path, kind: str = "code") -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def _solutions(chapter: Path) -> dict[str, str]:
    """The chapter's checked functions, by name, as the chapter writes them."""
    found = {}
    for source in _cells(chapter):
        if "check_" not in source:
            continue
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("my_"):
                found[node.name] = ast.get_source_segment(source, node)
    return found


def _exercise_cells(workbook: Path) -> list[str]:
    return [s for s in _cells(workbook) if "raise NotImplementedError(" in s]


def test_every_chapter_with_exercises_has_an_up_to_date_workbook():
    assert [c.stem for c, _ in CHAPTERS] == ["generative_models", "autoencoders", "vae", "gan", "dcgan",
                                             "vaegan", "comparison"]
    assert workbooks.stale_workbooks(ROOT) == []


@pytest.mark.parametrize("chapter", [c for c, _ in CHAPTERS], ids=lambda p: p.stem)
def test_a_workbook_has_no_outputs_and_no_solutions(chapter):
    path = workbooks.workbook_path(ROOT, chapter)
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None
               for c in nb["cells"] if c["cell_type"] == "code")
    assert "gentut" not in nb["metadata"]  # no run record: nothing was run
    text = path.read_text(encoding="utf-8")
    assert "{solution" not in text and "{exercise}" not in text and "workbook-link" not in text
    # No line of a checked function's body survives.
    for name, source in _solutions(chapter).items():
        body = [line.strip() for line in source.splitlines()[1:] if line.strip()]
        leaked = [line for line in body if len(line) > 12 and line in text]
        assert not leaked, f"{path.name}: {name}'s solution shows: {leaked}"
    # Every exercise of the chapter is there, numbered as in the book.
    count = sum(s.count("{exercise}") for s in _cells(chapter, "markdown"))
    headings = re.findall(r"^### Exercise (\d+(?:\.\d+)?)", "\n".join(_cells(path, "markdown")), re.M)
    number = dict((c.stem, n) for c, n in CHAPTERS)[chapter.stem]
    assert headings == [f"{number}.{k}" for k in range(1, count + 1)]


@pytest.mark.parametrize("chapter", [c for c, _ in CHAPTERS if _solutions(c)], ids=lambda p: p.stem)
def test_filled_in_with_the_chapters_solutions_every_checker_passes(chapter):
    solutions = _solutions(chapter)
    cells = _exercise_cells(workbooks.workbook_path(ROOT, chapter))
    assert len(cells) == len(solutions)
    for cell in cells:
        tree = ast.parse(cell)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                cell = cell.replace(ast.get_source_segment(cell, node), solutions[node.name])
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(cell, f"<{chapter.stem} workbook>", "exec"), {})  # each cell runs on its own
        checks = cell.count("\ncheck_")
        assert printed.getvalue().count("Correct:") == checks, printed.getvalue()


def test_a_blank_exercise_gives_one_friendly_line_not_a_traceback():
    def my_generator_loss(fake_logits):
        raise NotImplementedError("Exercise 4.2: your code replaces this line")

    with pytest.raises(ExerciseNotDone) as caught:
        check_generator_loss(my_generator_loss)
    message = str(caught.value)
    assert message.startswith("my_generator_loss still raises NotImplementedError (Exercise 4.2")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    [line] = caught.value._render_traceback_()  # what IPython shows instead of a traceback
    assert "Exercise not done yet" in line and message in line


def test_run_top_to_bottom_a_blank_workbook_stops_at_its_first_exercise(tmp_path):
    """The exercise part of a real workbook, run in a Jupyter kernel: execution stops at the first
    exercise with the friendly line as the whole error, and the next exercise is not run."""
    import nbclient
    import nbformat

    path = workbooks.workbook_path(ROOT, next(c for c, _ in CHAPTERS if c.stem == "gan"))
    nb = nbformat.read(path, as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if "raise NotImplementedError(" in c.source)
    nb.cells = nb.cells[first - 1:]  # the first exercise's text, then everything after it
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3")
    with pytest.raises(nbclient.exceptions.CellExecutionError) as caught:
        client.execute()
    assert caught.value.ename == "ExerciseNotDone"
    error = nb.cells[1].outputs[-1]
    assert error.output_type == "error" and len(error.traceback) == 1
    assert "Exercise not done yet" in error.traceback[0] and "my_discriminator_loss" in error.traceback[0]
    assert "Traceback" not in error.traceback[0] and "File " not in error.traceback[0]
    later = [c for c in nb.cells[2:] if c.cell_type == "code"]
    assert later and all(c.execution_count is None for c in later)


def _notebook(*cells: tuple[str, str]) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"gentut": {"run": {}}},
            "cells": [{"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True),
                       **({"outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}],
                           "execution_count": 3} if kind == "code" else {})}
                      for kind, source in cells]}


def test_the_transformation_on_a_small_chapter():
    nb = _notebook(
        ("markdown", "# A chapter\n\nSee {ref}`ex-two` and [the notation](../notation.md)."),
        ("code", "x = 1"),
        ("markdown", "## Exercises\n\n````{exercise}\n:label: ex-one\n\nProve it.\n````\n\n"
                     "````{solution} ex-one\n:class: dropdown\nThe proof.\n````\n\n"
                     "````{exercise} A title\n:label: ex-two\n\nWrite `my_double(x)`.\n````\n\n"
                     "````{solution-start} ex-two\n:class: dropdown\n````"),
        ("code", "from gentut.exercises import check_balance\n\n\ndef my_double(x):\n"
                 "    \"\"\"Twice x.\"\"\"\n    # a hint from the solution\n    return 2 * torch.as_tensor(x)\n\n\n"
                 "check_balance(my_double)\nprint('the rest of the solution')"),
        ("markdown", "Why it works.\n\n````{solution-end}\n````\n\nAfter the exercises."),
    )
    out = workbooks.workbook(nb, chapter=3, chapter_url="https://example.org/r/blob/main/book/ch/ch.ipynb")
    texts = ["".join(c["source"]) for c in out["cells"]]
    assert texts[0].startswith("# A chapter: workbook\n\nSee Exercise 3.2 and "
                               "[the notation](https://example.org/r/blob/main/book/notation.md).")
    assert texts[1].startswith("*This is the chapter's workbook.*")
    assert texts[3] == "## Exercises\n\n### Exercise 3.1\n\nProve it.\n\n### Exercise 3.2: A title\n\nWrite `my_double(x)`."
    assert texts[4] == ('import torch\n\nfrom gentut.exercises import check_balance\n\n\ndef my_double(x):\n'
                        '    """Twice x."""\n    raise NotImplementedError("Exercise 3.2: your code replaces this line")'
                        '\n\n\ncheck_balance(my_double)')
    assert texts[5] == "After the exercises."
    assert all(c.get("outputs", []) == [] for c in out["cells"]) and "gentut" not in out["metadata"]
    assert nb["cells"][1]["outputs"]  # the chapter itself is not changed


def test_a_solution_using_a_name_the_workbook_cannot_import_is_refused():
    source = "from gentut.exercises import check_balance\n\n\ndef my_f(x):\n    return helper(x)\n\n\ncheck_balance(my_f)"
    with pytest.raises(ValueError, match=r"Exercise 1.1: the solution uses \['helper'\]"):
        workbooks.stub_source(source, "1.1")


def test_an_unclosed_directive_is_refused():
    with pytest.raises(ValueError, match="is not closed"):
        workbooks.workbook(_notebook(("markdown", "````{exercise}\nNever closed.")), chapter=1, chapter_url="u/c")


def test_each_chapter_links_its_workbook_and_its_colab_page():
    url, branch = workbooks._repository(ROOT)
    for chapter, _ in CHAPTERS:
        nb = json.loads(chapter.read_text(encoding="utf-8"))
        [link] = ["".join(c["source"]) for c in nb["cells"] if workbooks.LINK_TAG in c["metadata"].get("tags", [])]
        repo = url.removeprefix("https://github.com/")
        assert f"https://colab.research.google.com/github/{repo}/blob/{branch}/workbooks/{chapter.stem}.ipynb" in link
        assert f"{url}/blob/{branch}/workbooks/{chapter.stem}.ipynb" in link


def test_a_not_implemented_error_from_deeper_down_is_the_readers_bug_not_a_blank():
    from torch import nn

    from gentut.exercises import ExerciseCheckError

    def my_generator_loss(fake_logits):
        return nn.Module()(fake_logits)  # a module without forward: torch raises NotImplementedError

    with pytest.raises(ExerciseCheckError, match="raised NotImplementedError") as caught:
        check_generator_loss(my_generator_loss)
    assert not isinstance(caught.value, ExerciseNotDone)


def test_stubs_keep_decorators_and_refuse_a_body_on_the_def_line():
    source = ("import torch\nfrom gentut.exercises import check_balance\n\n\n@torch.no_grad()\n"
              "def my_f(a,\n         b):\n    return a\n\n\ncheck_balance(my_f)")
    stub = workbooks.stub_source(source, "1.1")
    assert "@torch.no_grad()\ndef my_f(a,\n         b):\n    raise NotImplementedError(" in stub
    with pytest.raises(ValueError, match="on lines of its own"):
        workbooks.stub_source("from gentut.exercises import check_balance\ndef my_f(x): return x\ncheck_balance(my_f)",
                              "1.2")


def test_every_workbook_installs_a_package_that_reports_a_blank_in_one_line():
    """A workbook installs the package of its chapter's outputs, or WORKBOOK_PACKAGE if that is
    older: the commit must have ExerciseNotDone, or Colab shows a traceback under a blank."""
    import subprocess

    import nbformat

    from gentut.notebooks import colab_pin

    if not (ROOT / ".git").exists():
        pytest.skip("not a git clone")
    for chapter, _ in CHAPTERS:
        _, commit = colab_pin(nbformat.read(workbooks.workbook_path(ROOT, chapter), as_version=4))
        checks = subprocess.run(["git", "show", f"{commit}:gentut/exercises/checks.py"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout
        assert "class ExerciseNotDone" in checks, (chapter.stem, commit)
