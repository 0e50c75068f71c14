"""The command-line reference (docs/cli.md), generated from the click commands themselves."""

from __future__ import annotations

import click


def _walk(command: click.Command, path: list[str], ctx: click.Context):
    yield path, command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            yield from _walk(sub, path + [name], click.Context(sub, info_name=name, parent=ctx))


def render_cli_reference() -> str:
    """Markdown: every command with its usage, its help and its options."""
    from agent.cli import cli

    root = click.Context(cli, info_name="zenithlink")
    out = ["# zenithlink command line", "",
           "Generated from the commands themselves (`python -c \"from agent.docgen.cli import *; "
           "print(render_cli_reference())\"`).", "",
           "Exit codes: 0 done; 1 the action failed (the message says why); 2 bad usage or bad "
           "configuration; 3 refused for lack of privilege. Listing commands take `--json` and then "
           "print one JSON document on stdout and nothing else there.", ""]
    for path, command, ctx in _walk(cli, [], root):
        if isinstance(command, click.Group) and path:
            out += [f"## zenithlink {' '.join(path)}", "", (command.help or "").strip(), ""]
            continue
        if not path:
            continue
        pieces = command.collect_usage_pieces(ctx)
        out += [f"### `zenithlink {' '.join(path + pieces)}`", "",
                (command.help or "").strip().split("\f")[0], ""]
        options = [p for p in command.get_params(ctx) if isinstance(p, click.Option) and "--help" not in p.opts]
        rows = [r for r in (p.get_help_record(ctx) for p in options) if r]
        if rows:
            out += ["| option | meaning |", "|---|---|"]
            out += [f"| `{name}` | {text.replace('|', '/')} |" for name, text in rows]
            out.append("")
    return "\n".join(out).rstrip() + "\n"
