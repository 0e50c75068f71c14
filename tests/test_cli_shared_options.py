"""``--json`` and ``--user`` are declared once (``agent/cli/options.py``) and mean the same everywhere."""

from __future__ import annotations

import ast
from pathlib import Path

import click

from agent.cli import cli

CLI = Path(__file__).resolve().parent.parent / "agent" / "cli"
SHARED = ("--json", "--user")


def _declarations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.name}:{node.lineno} declares {arg.value}" for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "option"
            for arg in node.args if isinstance(arg, ast.Constant) and arg.value in SHARED]


def test_shared_options_are_declared_in_one_module() -> None:
    found = [d for path in sorted(CLI.glob("*.py")) if path.name != "options.py" for d in _declarations(path)]
    assert found == []


def _options(command: click.Command, ctx: click.Context):
    for param in command.params:
        if isinstance(param, click.Option):
            yield param
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                yield from _options(sub, click.Context(sub, parent=ctx, info_name=name))


def test_every_json_option_reads_the_same() -> None:
    helps = {p.help for p in _options(cli, click.Context(cli, info_name="zenithlink")) if "--json" in p.opts}
    assert helps == {"Print one JSON document on stdout."}
