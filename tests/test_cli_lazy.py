"""Running a command imports only the modules that define or extend it (``COMMANDS``), and that
map is whole: each command, loaded alone in a fresh import of the CLI, has every subcommand it
has when every module is loaded."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT

PROBE = r'''
import importlib, json, sys
import click

def fresh():
    for name in [m for m in sys.modules if m == "agent.cli" or m.startswith("agent.cli.")]:
        del sys.modules[name]
    return importlib.import_module("agent.cli")

def shape(command):
    if isinstance(command, click.Group):
        return {name: shape(sub) for name, sub in sorted(command.commands.items())}
    return None

alone = {}
for name in sorted(fresh().COMMANDS):
    cli = fresh()
    alone[name] = shape(cli.cli.get_command(click.Context(cli.cli), name))
    alone[name + " imports"] = sorted(m for m in sys.modules if m.startswith("agent.cli."))
cli = fresh()  # one after the other, as one process running several commands does
ctx = click.Context(cli.cli)
one_by_one = {name: shape(cli.cli.get_command(ctx, name)) for name in sorted(cli.COMMANDS)}
cli = fresh()
ctx = click.Context(cli.cli)
whole = {name: shape(cli.cli.get_command(ctx, name)) for name in cli.cli.list_commands(ctx)}
defined = {c.name: m for m in cli.COMMAND_MODULES for c in importlib.import_module(m).commands}
print(json.dumps({"alone": alone, "one_by_one": one_by_one, "whole": whole, "defined": defined, "map": cli.COMMANDS}))
'''


def _probe() -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "ZENITHLINK_NO_ENTRY_POINTS": "1", "PATH": ""})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_each_command_loaded_alone_is_whole_and_imports_only_its_modules():
    found = _probe()
    assert set(found["defined"]) == set(found["map"]), "every command a module defines is in COMMANDS"
    for name, module in found["defined"].items():
        assert module == found["map"][name][0], f"{name} is defined in {module}"
    for name in found["map"]:
        assert found["alone"][name] == found["whole"][name], f"{name} loaded alone lacks a subcommand"
        assert found["one_by_one"][name] == found["whole"][name], f"{name} after the others lacks a subcommand"
    status_imports = found["alone"]["status imports"]
    assert "agent.cli.sandbox_cmd" not in status_imports and "agent.cli.web_cmd" not in status_imports
