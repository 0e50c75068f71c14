"""What a command loads to start (issue #29): on a pipe, as scripts and monitoring probes run it,
``status`` and the listings print plain columns without importing rich; ``--json`` never imports
rich; ``--version`` loads neither loguru, nor rich, nor the ``App``. Behaviour, not timing: each
command runs in a fresh interpreter that reports its ``sys.modules`` as it exits. The figures are
``python -m bench cli``'s."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import ROOT, write_ini

PROBE = r'''
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("\n@@modules " + json.dumps(sorted(sys.modules)) + "\n"))
from agent.cli import main
main(sys.argv[1:])
'''


def run(argv: list[str], ini: Path | None = None) -> tuple[int, str, set[str]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("ZENITHLINK_CONFIG", None)
    config = ["--config", str(ini)] if ini else []
    done = subprocess.run([sys.executable, "-c", PROBE, *config, *argv], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)
    assert "@@modules " in done.stderr, done.stderr
    before, _, modules = done.stderr.rpartition("@@modules ")
    assert done.returncode == 0, before
    return done.returncode, done.stdout, set(json.loads(modules))


def _loaded(modules: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in modules)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A folder as a stopped agent leaves it: the INI, the store, the lock file, a sites file."""
    from agent.app import App
    from agent.runtime.lock import FolderLock
    from dbsys import cmt

    ini = write_ini(tmp_path_factory.mktemp("start"))
    app = App(ini)
    try:
        app.state  # noqa: B018 - the store, as the agent's first start creates it
        with FolderLock(app.settings.dbsys_folder):
            pass
        sites = ([("SiteCode", f"S{n}"), ("Name", f"Site {n}\nsecond line")] for n in range(3))
        cmt.write_inventory(cmt.sites_path(app.settings.dbsys_folder, app.settings.instance_id), "sites", sites,
                            datetime.now(timezone.utc))
    finally:
        app.close()
    return ini


def test_version_loads_neither_loguru_nor_rich_nor_the_app():
    _code, out, modules = run(["--version"])
    assert "zenithlink, version" in out
    for package in ("loguru", "rich", "agent.app", "agent.plugins", "importlib.metadata"):
        assert not _loaded(modules, package), f"--version imported {package}"


@pytest.mark.parametrize("argv", [["status"], ["inventory", "sites"], ["check-config", "--offline"]],
                         ids=" ".join)
def test_a_command_on_a_pipe_prints_plain_columns_without_rich(folder, argv):
    _code, out, modules = run(argv, folder)
    assert not _loaded(modules, "rich"), f"{' '.join(argv)} imported rich on a pipe"
    assert not any(c in out for c in "┃│━─"), "no drawn table on a pipe"


@pytest.mark.parametrize("argv", [["status"], ["inventory", "sites"]], ids=" ".join)
def test_a_stopped_agents_status_and_listing_load_neither_loguru_nor_the_rmm_port(folder, argv):
    # Nothing on their way logs when all is well: loguru (asyncio, multiprocessing) is imported
    # where a line is written; with one RMM, the extra RMMs' machinery stays unloaded too.
    _code, _out, modules = run(argv, folder)
    for package in ("loguru", "agent.instances", "agent.ports.rmm", "agent.sync.alerts.lifecycle"):
        assert not _loaded(modules, package), f"{' '.join(argv)} imported {package}"


def test_check_config_judges_every_plugin_without_loading_loguru(folder):
    _code, _out, modules = run(["check-config", "--offline"], folder)
    assert _loaded(modules, "plugins.account_resolver"), "the built-in plugins are judged"
    assert not _loaded(modules, "loguru")


def test_status_on_a_pipe_has_the_fields_one_line_each(folder):
    _code, out, _modules = run(["status"], folder)
    lines = out.splitlines()
    assert lines[0] == "zenithlink — NOT running"
    assert lines[1].split() == ["field", "value"]
    at = lines[1].index("value")
    rows = {line[:at].rstrip(): line[at:] for line in lines[2:]}
    assert rows["queue"] == "off (inventory and links only)"
    assert rows["sites linked"].startswith("0 of 3: 3 of 3 Continuum sites are not linked")


def test_inventory_sites_on_a_pipe_keeps_each_site_on_one_line(folder):
    _code, out, _modules = run(["inventory", "sites"], folder)
    lines = out.splitlines()
    assert lines[1].split() == ["SiteCode", "Name", "ClientName", "SiteID"]
    assert [line.split()[:4] for line in lines[2:]] == [["S0", "Site", "0", "second"], ["S1", "Site", "1", "second"],
                                                        ["S2", "Site", "2", "second"]]


@pytest.mark.parametrize("argv", [["status", "--json"], ["inventory", "sites", "--json"]], ids=" ".join)
def test_json_never_imports_rich(folder, argv):
    _code, out, modules = run(argv, folder)
    json.loads(out)
    assert not _loaded(modules, "rich")


# -- the one place that decides ------------------------------------------------------------------
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_table_is_drawn_on_a_terminal_and_plain_elsewhere(monkeypatch, capsys):
    from agent.cli import output

    output.table("Sites", ["site", "name"], [("A", "one\ntwo"), ("LONGER", None)])
    assert capsys.readouterr().out == "Sites\nsite    name\nA       one two\nLONGER\n"
    output.table("Sites", ["site", "name"], [])
    assert capsys.readouterr().out == "Sites: none\n"
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    output.table("Sites", ["site", "name"], [("A", "one")])
    assert "│ A    │ one  │" in terminal.getvalue()


def test_loguru_imported_after_configure_gets_the_redacted_sink_and_the_level_asked_for():
    script = ("import sys\nfrom agent import logs\nlogs.add_secret('sekrit-123')\nlogs.configure('DEBUG')\n"
              "logs.configure('WARNING')\nassert 'loguru' not in sys.modules\nfrom loguru import logger\n"
              "logger.info('not at WARNING')\nlogger.warning('the secret sekrit-123')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("WARNING the secret ***")
    assert "not at WARNING" not in done.stderr and "sekrit-123" not in done.stderr
    assert done.stderr.count("\n") == 1, "one sink: loguru's own default one never wrote"
