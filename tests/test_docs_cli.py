"""docs/cli.md is generated from the commands, and the CLI contract's commands all exist."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from agent.cli import exit_codes
from agent.docgen.cli import _commands, render_cli_reference
from agent.errors import CheckFailed, ConfigError, PrivilegeError, UsageError, ZenithError
from agent.plugins import PluginError

from conftest import run_cli, write_ini

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
CONTRACT_COMMANDS = [
    "check-config", "run", "demo", "sandbox", "plugins", "inventory refresh", "inventory sites",
    "inventory devices", "accounts add", "accounts list", "accounts show", "accounts merge", "accounts import",
    "employees add", "groups add", "groups list", "assets add", "assets list", "links sites", "links devices",
    "links suggest site", "links suggest device", "links link-site", "links unlink-site", "links unlink-account",
    "links create-account", "links link-device", "links unlink-device", "links create-asset", "tickets list",
    "tickets show", "tickets add", "tickets create-in-continuum", "tickets reassign", "tickets note",
    "tickets complete", "requests", "errors", "status", "service install", "service uninstall",
    "service status", "backup",
]


def test_cli_reference_is_up_to_date():
    assert DOCS.read_text() == render_cli_reference(), "regenerate docs/cli.md (see its first lines)"


def test_every_contract_command_exists():
    text = render_cli_reference()
    missing = [c for c in CONTRACT_COMMANDS if f"`zenithlink {c} " not in text and f"`zenithlink {c}`" not in text]
    assert missing == []


# -- the exit-code table ---------------------------------------------------------------------
def exit_code_table() -> dict[str, dict[int, str]]:
    """docs/cli.md's exit-code table: command -> {code: meaning}; a `—` cell is left out."""
    lines = DOCS.read_text().splitlines()
    header = lines.index("| command | 0 | 1 | 2 | 3 |")
    codes = [int(c) for c in lines[header].strip("|").split("|")[1:]]
    table: dict[str, dict[int, str]] = {}
    for line in lines[header + 2:]:
        if not line.startswith("| `"):
            break
        command, *cells = [c.strip() for c in line.strip("|").split("|")]
        table[command.strip("`")] = {code: cell for code, cell in zip(codes, cells, strict=True) if cell != "—"}
    return table


def runnable_commands() -> dict[str, click.Command]:
    from agent.cli import cli

    return {" ".join(path): command for path, command, _ in _commands(click.Context(cli, info_name="zenithlink"))}


def test_the_exit_code_table_has_one_row_for_every_command():
    table = exit_code_table()
    assert sorted(table) == sorted(runnable_commands())
    assert set(exit_codes.SPECIFIC) <= set(table)


def test_exit_3_is_in_the_table_exactly_for_the_commands_that_act_for_a_person():
    table = exit_code_table()
    for name, command in runnable_commands().items():
        takes_user = any("--user" in p.opts for p in command.params if isinstance(p, click.Option))
        assert (3 in table[name]) == takes_user, name


def _error_classes() -> list[type[ZenithError]]:
    runnable_commands()  # imports every command module, and with them every error class they raise
    found, todo = [], [ZenithError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_code_an_error_carries_is_a_column_of_the_table():
    assert {cls.exit_code for cls in _error_classes()} <= set(exit_codes.GENERAL) - {exit_codes.DONE}
    assert (ZenithError.exit_code, CheckFailed.exit_code) == (exit_codes.FAILED, exit_codes.FAILED)
    assert ConfigError.exit_code == UsageError.exit_code == PluginError.exit_code == exit_codes.BAD_USAGE
    assert PrivilegeError.exit_code == exit_codes.NO_PRIVILEGE


def _init(folder: Path) -> Path:
    ini = folder / "CmtZenithLink.ini"
    assert run_cli(["init", str(ini)]).code == 0
    return ini


def _limited_tech(folder: Path) -> Path:
    ini = write_ini(folder)
    assert run_cli(["employees", "add", "tech", "--group", "Limited"], config=ini).code == 0
    return ini


# (command as in the table, its arguments, how to make the INI, words of the cell that applies)
SCENARIOS = [
    ("check-config", [], _init, "the file has problems"),
    ("check-config", [], write_ini, "the connection check failed"),
    ("check-config", ["--offline"], write_ini, "the file is valid as `run` judges it"),
    ("run", ["--once"], _init, "refused at start-up"),
    ("run", ["--once"], write_ini, "a job of the cycle failed"),
    ("status", [], write_ini, "whether the agent runs or not"),
    ("status", ["--check"], write_ini, "no agent is running"),
    ("links link-site", ["SITE", "CRD00000000000000000", "--user", "tech"], _limited_tech, "no privilege"),
    ("tickets show", ["TKT00000000000000000"], write_ini, "failed"),
    ("tickets list", ["--no-such-option"], write_ini, "bad usage"),
]


@pytest.mark.parametrize("command, args, make_ini, words", SCENARIOS,
                         ids=[f"{c} {' '.join(a[:1])} {w}" for c, a, _, w in SCENARIOS])
def test_a_command_exits_with_the_code_its_row_of_the_table_gives(tmp_path, command, args, make_ini, words):
    row = exit_code_table()[command]
    expected = [code for code, meaning in row.items() if words in meaning]
    assert len(expected) == 1, f"one cell of the row of {command} must say {words!r}: {row}"
    res = run_cli([*command.split(), *args], config=make_ini(tmp_path))
    assert res.code == expected[0], res.out + res.err
