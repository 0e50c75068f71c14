"""Every command, run the way a script or a scheduler runs it: output piped, in the platform's code
page. On Linux the code page is forced to cp1252; in the Windows lane the Windows interpreter's
pipes are in the ANSI code page by themselves. The commands run in one process each batch (a
Windows process under Wine takes seconds to start), each through the CLI's own entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from conftest import ROOT, run_cli

CODE_PAGE = {} if os.name == "nt" else {"PYTHONIOENCODING": "cp1252"}

DRIVER = r'''
import json, sys
from agent.cli import main
for argv in json.loads(sys.argv[1]):
    print("@@@", file=sys.stderr, flush=True)
    print("@@@", flush=True)
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    else:
        code = 0
    print(f"@@@ exit {code}", file=sys.stderr, flush=True)
'''


def run_batch(commands: list[list[str]]) -> list[tuple[int, str, str]]:
    """``(exit code, stdout, stderr)`` of each command."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="120", NO_COLOR="1", **CODE_PAGE)
    for name in ("ZENITHLINK_USER", "ZENITHLINK_CONFIG", "PYTHONUTF8"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(commands)], capture_output=True, cwd=ROOT,
                          env=env, timeout=300, encoding="cp1252", errors="strict")
    outs = proc.stdout.split("@@@\n")[1:]
    errs = proc.stderr.split("@@@\n")[1:]
    assert len(outs) == len(errs) == len(commands), proc.stderr[-3000:]
    results = []
    for out, err in zip(outs, errs):
        body, _, code = err.rpartition("@@@ exit ")
        results.append((int(code), out, body))
    return results


def leaf_commands() -> list[list[str]]:
    from agent.cli import cli

    found: list[list[str]] = []

    def walk(group: click.Group, path: list[str]) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                walk(command, path + [name])
            elif command is not None:
                found.append(path + [name])

    walk(cli, [])
    return found


def test_every_command_shows_its_help_on_a_pipe_in_the_code_page():
    commands = leaf_commands()
    assert len(commands) > 40
    for argv, (code, out, err) in zip(commands, run_batch([c + ["--help"] for c in commands])):
        assert code == 0, (argv, err)
        assert "Usage:" in out, argv


@pytest.fixture(scope="module")
def demo_world(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tour") / "demo"
    made = run_cli(["demo", "--once", "--folder", str(folder)], timeout=300, env=CODE_PAGE, encoding="cp1252")
    assert made.code == 0, made.err
    return folder


def test_every_kind_of_command_works_on_a_pipe_in_the_code_page(demo_world):
    ini = str(demo_world / "CmtZenithLink.ini")
    name = "Łódź → Systems"  # neither letter nor arrow is in cp1252
    commands = [
        ["status"], ["status", "--json"], ["check-config", "--offline"], ["check-config", "--offline", "--json"],
        ["plugins"], ["plugins", "--json"],
        ["inventory", "sites"], ["inventory", "devices", "--json"],
        ["links", "sites"], ["links", "devices", "--unlinked"], ["links", "sites", "--json"],
        ["links", "suggest", "site", "ACME-HQ"], ["links", "export"],
        ["accounts", "add", name, "--json"], ["accounts", "list"], ["accounts", "list", "--json"],
        ["assets", "list"], ["employees", "list"], ["groups", "list"],
        ["tickets", "list", "--inbox"], ["tickets", "list", "--json"], ["tickets", "show", "1"],
        ["tickets", "show", "1", "--json"], ["tickets", "note", "1", f"seen by {name}", "--user", "admin"],
        ["requests"], ["requests", "--json"], ["errors", "list"], ["audit"], ["audit", "--json"],
        ["service", "status", "--dry-run"], ["service", "install", "--dry-run"],
        ["backup", str(demo_world / "tour-backup.sqlite3")], ["docs", "service"],
    ]
    results = run_batch([["--config", ini, *argv] for argv in commands])
    for argv, (code, out, err) in zip(commands, results):
        assert code == 0, (argv, err)
        assert "Unexpected error" not in err and "Traceback" not in err, (argv, err)
        if "--json" in argv:
            json.loads(out)  # ASCII, whole
    listed = json.loads(results[commands.index(["accounts", "list", "--json"])][1])
    assert name in [a["name"] for a in listed]  # lossless through JSON in any code page
    assert "?ód? ? Systems" in results[commands.index(["accounts", "list"])][1]  # replaced in text
