"""The GitHub Actions workflow: well-formed, and running the suite on Linux and Windows.

PyYAML is not a dependency, so the file is checked by its structure: the block YAML subset it
is written in (two-space indents, no tabs, ``key: value`` and ``- item`` lines).
"""

from __future__ import annotations

import ast
import re
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
LINE = re.compile(r"^(?P<indent> *)(?:- )?(?:(?P<key>[A-Za-z_][\w-]*):(?: (?P<value>.*))?|(?P<item>.+))$")


def lines() -> list[tuple[int, str | None, str]]:
    """``(indent, key, value)`` of every line that is not blank or a comment."""
    out = []
    for number, raw in enumerate(WORKFLOW.read_text(encoding="utf-8").splitlines(), 1):
        assert "\t" not in raw, f"line {number}: a tab"
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        match = LINE.match(raw)
        assert match, f"line {number} is not YAML of this file's kind: {raw!r}"
        indent = len(match["indent"])
        assert indent % 2 == 0, f"line {number}: indent of {indent}"
        out.append((indent, match["key"], (match["value"] or match["item"] or "").strip()))
    return out


def value_of(key: str) -> str:
    (found,) = [v for _i, k, v in lines() if k == key]
    return found


def matrix() -> dict[str, str]:
    """The keys under ``strategy.matrix``."""
    parsed = lines()
    (start,) = [n for n, (_i, k, _v) in enumerate(parsed) if k == "matrix"]
    indent = parsed[start][0]
    found = {}
    for line_indent, key, value in parsed[start + 1:]:
        if line_indent <= indent:
            break
        found[key or ""] = value
    return found


def flow_list(text: str) -> list[str]:
    assert text.startswith("[") and text.endswith("]"), text
    return [item.strip().strip('"') for item in text[1:-1].split(",")]


def test_the_workflow_is_well_formed_block_yaml():
    parsed = lines()
    assert [k for i, k, _v in parsed if i == 0] == ["name", "on", "jobs"]
    for (indent, _k, _v), (next_indent, _nk, _nv) in zip(parsed, parsed[1:]):
        assert next_indent <= indent + 4, "a line indented deeper than one level (plus a list dash)"
    for _i, key, value in parsed:
        if key == "uses":
            assert re.fullmatch(r"actions/[a-z-]+@v\d+", value), value


def test_the_matrix_is_linux_and_windows_on_every_supported_python():
    assert flow_list(matrix()["os"]) == ["ubuntu-latest", "windows-latest"]
    versions = flow_list(matrix()["python-version"])
    assert versions == ["3.11", "3.12", "3.13"]
    assert value_of("runs-on") == "${{ matrix.os }}"
    assert value_of("fail-fast") == "false"
    setup = ConfigParser()
    setup.read(ROOT / "setup.cfg", encoding="utf-8")
    classifiers = setup["metadata"]["classifiers"]
    for version in versions:
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert setup["options"]["python_requires"] == f">={versions[0]}"


def test_the_suite_is_run_with_python_m_pytest_and_the_engine_suites_as_make_test_runs_them():
    runs = [v for _i, k, v in lines() if k == "run"]
    text = WORKFLOW.read_text(encoding="utf-8")
    assert 'python -m pip install -e ".[test]"' in text
    assert any(v.startswith("python -m pytest") for v in runs)
    assert "python -m ruff check ." in runs and "python -m mypy" in runs
    assert not [v for _i, _k, v in lines() if re.search(r"\bmake\b", v)]  # Windows runners have no make
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    engine = re.search(r"^ENGINE_TESTS := (.*?)\n\n", makefile, re.S | re.M)
    assert engine, "ENGINE_TESTS in the Makefile"
    expected = engine[1].replace("\\\n", " ").split()
    block = re.search(r"ENGINE_TESTS: >-\n((?: {8}.*\n)+)", text)
    assert block, "ENGINE_TESTS in the workflow"
    assert block[1].split() == expected
    assert text.count("$ENGINE_TESTS") == 4
    for backend in ("memory", "rangermsp-simulator"):
        assert f"ZENITHLINK_TEST_PSA: {backend}" in text
    rmm_engine = re.search(r"^RMM_ENGINE_TESTS := \$\(ENGINE_TESTS\) (.*)$", makefile, re.M)
    assert rmm_engine, "RMM_ENGINE_TESTS in the Makefile"
    for backend in ("nsight", "ninjaone"):
        line = f"ZENITHLINK_TEST_RMM={backend} $(BIN)/python -m pytest -q $(XDIST) $(PYTEST_ARGS) $(RMM_ENGINE_TESTS)"
        assert line in makefile
        assert f"ZENITHLINK_TEST_RMM: {backend}" in text
    assert text.count(f"$ENGINE_TESTS {rmm_engine[1]}") == 2


def test_posix_tests_are_marked_for_the_windows_runner():
    setup = ConfigParser()
    setup.read(ROOT / "setup.cfg", encoding="utf-8")
    markers = setup["tool:pytest"]["markers"]
    assert "posix:" in markers and "browser:" in markers
    for path in (ROOT / "tests").rglob("test_*.py"):
        source = path.read_text(encoding="utf-8")
        if path.name != Path(__file__).name and ("signal.SIGKILL" in source or "#!/bin/sh" in source):
            assert _marks_module_posix(source), f"{path.name} needs POSIX: mark it posix (pytestmark)"


def _marks_module_posix(source: str) -> bool:
    """Whether the module itself (not a script in one of its strings) sets ``pytestmark`` to posix."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
            return "posix" in ast.unparse(node.value)
    return False
