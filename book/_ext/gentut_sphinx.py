"""Two fixes to how the book renders, loaded by `_config.yml` (sphinx.local_extensions).

1. Scripts emitted twice. sphinx-thebe and sphinx-togglebutton add inline scripts with
   ``app.add_js_file(None, body=...)``; under Jupyter Book 1 with Sphinx 7 each lands twice in
   every page, and the second ``const THEBE_JS_URL = ...`` throws "Identifier 'THEBE_JS_URL' has
   already been declared" in the console of every page. Sphinx removes duplicate script files
   but not duplicate inline bodies, so this drops the repeats when a page is written.

2. Reference labels. pybtex's default label style gives cite-key labels such as ``[ACB17]`` in
   the reference lists, beside author-year citations in the text ("Arjovsky et al. (2017)").
   The ``gentut`` bibliography style labels each entry the way the text cites it.
"""

from __future__ import annotations

from typing import Any

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels.alpha import LabelStyle as AlphaLabelStyle


def _last_names(entry) -> list[str]:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = []
    for person in people:
        # "von" parts belong to the surname ("van den Oord"); braces are BibTeX protection.
        parts = person.prelast_names + person.last_names
        names.append(" ".join(parts).replace("{", "").replace("}", ""))
    return names


class AuthorYearLabels(AlphaLabelStyle):
    """Labels like the text's citations: "Goodfellow et al., 2014", "Kingma & Welling, 2013".

    pybtex's alpha style already tells equal labels apart (2014a, 2014b); only the label differs.
    """

    def format_label(self, entry) -> str:
        names = _last_names(entry)
        year = entry.fields.get("year", "n.d.")
        if not names:
            who = entry.fields.get("key", entry.key)
        elif len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} & {names[1]}"
        else:
            who = f"{names[0]} et al."
        return f"{who}, {year}"


class GentutStyle(UnsrtStyle):
    """pybtex's unsrt entries, sorted by author and year, with author-year labels."""

    default_label_style = "gentut-author-year"
    default_sorting_style = "author_year_title"


def _drop_repeated_scripts(app, pagename: str, templatename: str, context: dict[str, Any],
                           doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    kept, seen = [], set()
    for script in scripts:
        # The same inline script arrives once with filename None and once with "" (from the
        # registry), so both count as "no file".
        key = (getattr(script, "filename", str(script)) or "",
               tuple(sorted((getattr(script, "attributes", {}) or {}).items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    scripts[:] = kept


def setup(app) -> dict[str, Any]:
    register_plugin("pybtex.style.labels", "gentut-author-year", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "gentut", GentutStyle)
    # After the themes have added their scripts (default priority 500).
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
