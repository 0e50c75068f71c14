"""The wheel carries what an installed agent points people to: the documentation pages (read with
``zenithlink docs``) and the licence."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT, run_cli

pytestmark = pytest.mark.slow

_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                     "demo-work", ".winlane")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)  # a clean tree: no build/ left by an earlier build
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w",
                           str(work / "dist")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (built,) = (work / "dist").glob("zenithlink-*.whl")
    with zipfile.ZipFile(built) as archive:
        yield archive


def test_the_wheel_ships_every_documentation_page(wheel):
    names = set(wheel.namelist())
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"agent/_docs/{page.name}" in names, page.name
    assert wheel.read("agent/_docs/troubleshooting.md") == (ROOT / "docs" / "troubleshooting.md").read_bytes()


def test_the_wheel_ships_the_licence(wheel):
    if not (ROOT / "LICENSE").is_file():
        pytest.skip("there is no LICENSE file at the root yet: the README says MIT, but the licence text with "
                    "its copyright line has to come from the project's owners")
    assert any(n.endswith(".dist-info/LICENSE") or "/licenses/LICENSE" in n for n in wheel.namelist())


def test_docs_prints_a_page_and_lists_them():
    page = run_cli(["docs", "troubleshooting"])
    assert page.code == 0 and page.out == (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    listing = run_cli(["docs"])
    assert listing.code == 0 and "ini-reference" in listing.out and "service" in listing.out
    unknown = run_cli(["docs", "nope"])
    assert unknown.code == 2 and "troubleshooting" in unknown.err


def test_the_ini_template_points_to_what_an_installed_agent_has():
    from config.template import render_template

    text = render_template()
    assert "docs/" not in text and "zenithlink check-config --reference" in text
