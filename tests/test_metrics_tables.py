"""The one table formatter of the book."""
import math

import pytest

from gentut.metrics.tables import format_table, format_value


def test_cells_align_under_their_headers_with_dashes_for_what_does_not_apply():
    table = format_table(
        {"real (held out)": {"fd": 4.4512, "n": 2000}, "GAN": {"fd": 21.4, "name": "x"}},
        ["fd", "n"], headers={"fd": "FD", "n": "N real"}, footer="lower is better",
    )
    lines = table.splitlines()
    assert lines[0].split() == ["model", "FD", "N", "real"]
    assert lines[1].split()[-2:] == ["4.451", "2,000"] and lines[2].split()[-2:] == ["21.400", "-"]
    assert len({len(line) for line in lines[:3]}) == 1  # one width: right-aligned columns
    assert lines[-1] == "lower is better"


def test_values_format_by_type_or_by_the_columns_spec():
    assert format_value(None) == format_value(math.nan) == "-"
    assert format_value(1234567) == "1,234,567" and format_value(0.5) == "0.500"
    assert format_value(0.123456, ".1%") == "12.3%" and format_value("8 8 7") == "8 8 7"
    assert format_table({"a": {"x": 0.25}}, ["x"], formats={"x": ".1f"}).splitlines()[1].split() == ["a", "0.2"]


def test_bad_rows_are_refused():
    with pytest.raises(ValueError, match="non-empty dict"):
        format_table({}, ["x"])
    with pytest.raises(TypeError, match="row 'a' must be a dict"):
        format_table({"a": 1}, ["x"])
