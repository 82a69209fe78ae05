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


CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
LOCAL_BIBLIOGRAPHY = re.compile(r"```\{bibliography\}\n:filter: docname in docnames\n:keyprefix: (\S+)\n```")


def test_every_page_that_cites_ends_with_its_own_reference_list():
    # A key may sit in only one bibliography directive, so each page's list gets its own key
    # prefix ("gan-goodfellow2014generative") and the bibliography page, which lists everything,
    # another. A citation with the wrong prefix would link to another chapter's list.
    bib_keys = set(re.findall(r"@\w+\{([^,\s]+),", (ROOT / "book" / "references.bib").read_text()))
    cited = set()
    for page in _pages():
        text = _markdown(page)
        keys = [k.strip() for group in CITE.findall(text) for k in group.split(",")]
        if not keys:
            continue
        lists = LOCAL_BIBLIOGRAPHY.findall(text)
        assert len(lists) == 1, f"{page.name} cites {len(keys)} times but has {len(lists)} local reference lists"
        prefix = lists[0]
        wrong = sorted({k for k in keys if not k.startswith(prefix)})
        assert not wrong, f"{page.name}: citations without the page's prefix {prefix!r}: {wrong}"
        unknown = sorted({k[len(prefix):] for k in keys} - bib_keys)
        assert not unknown, f"{page.name}: keys not in references.bib: {unknown}"
        cited |= {k[len(prefix):] for k in keys}
    assert cited == bib_keys, f"entries never cited: {sorted(bib_keys - cited)}"


def test_every_figure_output_has_a_caption_and_alt_text():
    missing = []
    for page in _pages():
        if page.suffix != ".ipynb":
            continue
        for cell in nbformat.read(page, as_version=4).cells:
            images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
            if not images:
                continue
            meta = cell.metadata.get("mystnb", {})
            if not meta.get("figure", {}).get("caption") or not meta.get("image", {}).get("alt"):
                missing.append(f"{page.name}:{cell.get('id')}")
    assert not missing, f"figures without caption or alt text: {missing}"
