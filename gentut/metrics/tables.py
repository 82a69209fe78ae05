"""One plain-text table for every number the book prints: a row per model, a column per metric.

Every chapter's tables go through `format_table`, so they read alike: the row names on the left,
numbers right-aligned under their headers, "-" for a value that does not apply, and a footer for
the protocol (which way is better, how many samples, what the numbers can be compared with).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

__all__ = ["format_table", "format_value"]


def format_value(value: Any, fmt: str | None = None) -> str:
    """`value` as a table cell: `fmt` if given, ints with thousands separators, floats to three
    decimals, strings as they are, None or NaN as "-"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if fmt is not None:
        return format(value, fmt)
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def format_table(
    rows: Mapping[str, Mapping[str, Any]],
    columns: Sequence[str],
    *,
    headers: Mapping[str, str] | None = None,
    formats: Mapping[str, str] | None = None,
    first: str = "model",
    footer: str | None = None,
) -> str:
    """A table with one line per row of `rows` (name -> {column: value}) and the given `columns`.

    Args:
        rows: row name -> values by column; a missing column shows as "-".
        columns: the columns to show, in order (keys of the rows' dicts).
        headers: column -> header text (default: the column's key).
        formats: column -> format spec such as ``".1f"`` (default: see `format_value`).
        first: the header of the row-name column.
        footer: a line printed under the table.
    """
    if not isinstance(rows, Mapping) or not rows:
        raise ValueError("rows must be a non-empty dict: row name -> dict of values")
    for name, values in rows.items():
        if not isinstance(values, Mapping):
            raise TypeError(f"row {name!r} must be a dict of values, got {type(values).__name__}")
    headers, formats = dict(headers or {}), dict(formats or {})
    titles = [headers.get(column, column) for column in columns]
    cells = [[format_value(values.get(column), formats.get(column)) for column in columns] for values in rows.values()]
    name_width = max(len(first), *(len(str(name)) for name in rows))
    widths = [max(len(title), *(len(row[i]) for row in cells)) for i, title in enumerate(titles)]
    lines = ["  ".join([f"{first:<{name_width}}", *(f"{t:>{w}}" for t, w in zip(titles, widths))]).rstrip()]
    for name, row in zip(rows, cells):
        lines.append("  ".join([f"{str(name):<{name_width}}", *(f"{c:>{w}}" for c, w in zip(row, widths))]))
    if footer:
        lines.append(footer)
    return "\n".join(lines)
