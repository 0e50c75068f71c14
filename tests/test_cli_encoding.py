"""Output in a code page that lacks a character never ends a command (a pipe on Windows is in the
ANSI code page, cp1252 here, not UTF-8), and JSON stays lossless in any code page.

On Linux the code page is forced with ``PYTHONIOENCODING``; in the Windows lane the same tests run
on the Windows interpreter, whose pipes are cp1252 by themselves."""

from __future__ import annotations

import json

from conftest import run_cli

CP1252 = {"PYTHONIOENCODING": "cp1252"}


def test_the_demo_runs_to_its_end_on_a_cp1252_pipe(tmp_path):
    res = run_cli(["demo", "--once", "--folder", str(tmp_path / "demo")], env=CP1252, encoding="cp1252",
                  timeout=180)
    assert res.code == 0, res.err
    assert "Device D-" in res.out and "? asset" in res.out  # the arrow the code page lacks
    assert "Müller Technik GmbH" in res.out  # what the code page has is kept
    assert "UnicodeEncodeError" not in res.err


def test_json_is_ascii_and_round_trips_names_the_code_page_lacks(ini):
    name = "Łódź Ünïcode → Ltd"
    created = run_cli(["accounts", "add", name, "--json"], config=ini, env=CP1252, encoding="cp1252")
    assert created.code == 0, created.err
    listed = run_cli(["accounts", "list", "--json"], config=ini, env=CP1252, encoding="ascii")
    assert listed.code == 0, listed.err
    assert name in [a["name"] for a in json.loads(listed.out)]


def test_a_table_with_a_name_the_code_page_lacks_is_printed_with_a_replacement(ini):
    assert run_cli(["accounts", "add", "Łódź Systems"], config=ini).code == 0
    res = run_cli(["accounts", "list"], config=ini, env=CP1252, encoding="cp1252")
    assert res.code == 0, res.err
    assert "?ód? Systems" in res.out

