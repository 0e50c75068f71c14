"""``plugins``: every plugin the agent knows, where it comes from, whether it is on."""

from __future__ import annotations

import click

from agent.cli.options import json_option
from agent.cli.output import emit_json, table
from agent.cli.readonly import read_only


@click.command("plugins")
@json_option
@click.pass_obj
@read_only
def plugins(app, as_json: bool) -> None:
    """List every plugin: name, source, enabled, hooks."""
    infos = sorted(app.pm.infos.values(), key=lambda i: (i.source != "built-in", i.name))
    if as_json:
        emit_json([i.as_dict() for i in infos])
        return
    table("Plugins", ["name", "source", "enabled", "hooks"],
          [(i.name, i.source, "yes" if i.enabled else "no", ", ".join(i.hooks)) for i in infos])


commands = [plugins]
