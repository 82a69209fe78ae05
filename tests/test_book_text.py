"""The book's prose: math that renders, and one notation in every chapter (book/notation.md)."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from gentut.notebooks import read_toc, resolve_entry, toc_entries

ROOT = Path(__file__).resolve().parents[1]


def _pages() -> list[Path]:
    return [resolve_entry(ROOT, entry) for entry in toc_entries(read_toc(ROOT))]


def _markdown(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text()
    nb = nbformat.read(path, as_version=4)
    return "\n\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")


def _without_display_math_and_code(text: str) -> str:
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # fenced code and directives
    return re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)


def inline_math_lines_read_as_lists(text: str) -> list[str]:
    """Continuation lines of an inline $...$ that Markdown would start a list with ("- ", "1. ")."""
    problems = []
    for span in re.findall(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$", _without_display_math_and_code(text), flags=re.S):
        for line in span.splitlines()[1:]:
            if re.match(r"\s*([-+*]|\d+[.)])\s", line):
                problems.append(span.strip()[:80])
    return problems


def test_the_list_check_finds_a_minus_at_the_start_of_a_math_line():
    assert inline_math_lines_read_as_lists("so $a\n- b = c$ holds") == ["a\n- b = c"]
    assert inline_math_lines_read_as_lists("so $a -\nb = c$ holds, and\n- a list item $x$") == []


@pytest.mark.parametrize("path", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_inline_math_line_starts_like_a_list_item(path):
    # A line inside $...$ that begins with "- " is read by Markdown as a bullet: the reader sees raw TeX.
    assert inline_math_lines_read_as_lists(_markdown(path)) == []


# Symbols the notation page rules out, with what to write instead.
RULED_OUT = {
    r"\\mathcal\{H\}": "H(p) for entropy",
    r"\\mathbb\{R\}\^\{?D\}?(?![_a-zA-Z])": "D_x for the number of pixels (D is the discriminator)",
    r"\^\{D\}|_\{i=1\}\^\{D\}|\\frac\{D\}\{2\}|\{D \\times|\\times D\}": "D_x for the number of pixels",
    r"x\^\{\(i\)\}|\\sum_\{i=1\}\^\{?N\}?": "x_n, n = 1..N for examples",
}


@pytest.mark.parametrize("path", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_chapters_use_the_notation_page(path):
    if path.name == "notation.md":
        pytest.skip("the notation page names the ruled-out forms")
    text = _markdown(path)
    found = {instead: re.findall(pattern, text) for pattern, instead in RULED_OUT.items()}
    assert not {k: v for k, v in found.items() if v}, f"{path.name}: use the notation page's symbols"
