"""Reading a person's CSV file: header names, the delimiter sniffed, every bad row by line."""

from __future__ import annotations

import pytest

from agent.sync.csvfile import BadRows, read_csv, sniff_delimiter


def table(tmp_path, text: str, encoding: str = "utf-8", **kwargs):
    path = tmp_path / "in.csv"
    path.write_bytes(text.encode(encoding))
    kwargs.setdefault("required", ("name",))
    kwargs.setdefault("optional", ("manager",))
    return read_csv(path, **kwargs)


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_columns_are_read_by_header_name_whatever_the_delimiter(tmp_path, delimiter):
    text = delimiter.join(["Manager", " NAME "]) + "\n" + delimiter.join(["jo", '"Smith; Sons, Ltd"']) + "\n"
    read = table(tmp_path, text)
    assert read.problems == [] and read.delimiter == delimiter
    assert [(r.line, r.values) for r in read.rows] == [(2, {"manager": "jo", "name": "Smith; Sons, Ltd"})]


def test_the_delimiter_is_the_headers_not_one_inside_quotes():
    assert sniff_delimiter('"name;x",manager\n') == ","
    assert sniff_delimiter("name;manager;notes\n") == ";"
    assert sniff_delimiter("name\nAcme, Inc\n") == ","


def test_every_bad_row_is_reported_with_its_line_and_a_quoting_error_as_such(tmp_path):
    text = 'name;manager\nAlpha;jo\nBeta;jo;extra\n\nGamma\n"Delta;jo\n'
    read = table(tmp_path, text)
    lines = dict(read.problems)
    assert sorted(lines) == [3, 5, 6]
    assert "3 field(s) where the header has 2" in lines[3] and "semicolons" in lines[3]
    assert "1 field(s)" in lines[5]
    assert lines[6].startswith("quoting error")
    assert [r.line for r in read.rows] == [2]


def test_a_quoted_value_over_several_lines_keeps_the_line_numbers_right(tmp_path):
    read = table(tmp_path, 'name,manager\n"Two\nlines",jo\nAfter,\n')
    assert [(r.line, r.get("name")) for r in read.rows] == [(2, "Two\nlines"), (4, "After")]


def test_missing_unknown_and_doubled_columns_are_header_problems(tmp_path):
    assert "no column name" in table(tmp_path, "manager\njo\n").problems[0][1]
    assert "unknown column(s) manger" in table(tmp_path, "name,manger\nA,jo\n").problems[0][1]
    assert "named twice" in table(tmp_path, "name,name\nA,B\n").problems[0][1]
    assert "empty" in table(tmp_path, "\n\n").problems[0][1]


def test_a_file_from_excel_in_the_windows_code_page_is_read(tmp_path):
    read = table(tmp_path, "name;manager\nMüller Technik GmbH;\n", encoding="cp1252")
    assert read.rows[0].get("name") == "Müller Technik GmbH"


def test_bad_rows_say_every_line_in_order_and_that_nothing_was_imported(tmp_path):
    message = BadRows(tmp_path / "x.csv", [(5, "b"), (2, "a")]).message
    assert message.index("line 2: a") < message.index("line 5: b") and "nothing was imported" in message
