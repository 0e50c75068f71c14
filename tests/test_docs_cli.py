"""docs/cli.md is generated from the commands, and the CLI contract's commands all exist."""

from __future__ import annotations

from pathlib import Path

from agent.docgen.cli import render_cli_reference

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
