"""trilat._text: the one number formatter and the one table formatter of trilat's reports."""

from __future__ import annotations

import math

import pytest

from trilat._text import number, table


def test_number_formats_by_magnitude_and_names_what_is_not_a_number():
    assert [number(x) for x in (0.0, 0.5, 12.3456789, -2e-4, 3e5)] == [
        "0", "0.5000", "12.3457", "-2.00e-04", "3.00e+05"
    ]  # fmt: skip
    assert number(0.123456, digits=2) == "0.12"
    assert [number(x, ".2e") for x in (None, math.nan, math.inf, -math.inf, 1234.5)] == [
        "-", "nan", "inf", "-inf", "1.23e+03"
    ]  # fmt: skip


def test_text_table_aligns_numbers_right_and_named_columns_left():
    lines = table(["name", "x", "note"], [["a", "1.5", "ok"], ["long", "10.25", ""]], left=(0, -1))
    assert lines == [
        "name      x  note",
        "----  -----  ----",
        "a       1.5  ok",
        "long  10.25",
    ]
    assert table(["x"], [["1"]], indent="  ") == ["  x", "  -", "  1"]


def test_markdown_table():
    assert table(["metric", "value"], [["r2", "0.9"]], left=(0,), markdown=True) == [
        "| metric | value |",
        "|---|---:|",
        "| r2 | 0.9 |",
    ]
    with pytest.raises(ValueError, match="2 cells"):
        table(["a", "b"], [["1"]])
