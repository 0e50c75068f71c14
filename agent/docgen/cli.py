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


def _commands(root: click.Context):
    """(path, command, context) of every command that can be run, groups that run alone included."""
    from agent.cli import cli

    for path, command, ctx in _walk(cli, [], root):
        if path and (not isinstance(command, click.Group) or command.invoke_without_command):
            yield path, command, ctx


def render_exit_codes(root: click.Context) -> list[str]:
    """The one table of every command's exit codes (:mod:`agent.cli.exit_codes`)."""
    from agent.cli import exit_codes as ec

    out = ["## Exit codes", "",
           "Every command exits 0 when done; 1 when the action failed (the message on stderr says why and what "
           "to do); 2 for bad usage or a bad configuration; 3 when refused for lack of privilege (only the "
           "commands that act for a person, with `--user`). Ctrl-C ends a command with 130. Where a command "
           "gives a code a meaning of its own, the table says it; `—`: the command never exits with that code.",
           "", "| command | " + " | ".join(str(code) for code in ec.GENERAL) + " |",
           "|---|" + "---|" * len(ec.GENERAL)]
    for path, command, _ in _commands(root):
        codes = ec.meanings(" ".join(path), command)
        cells = [codes.get(code, "—").replace("|", "/") for code in ec.GENERAL]
        out.append(f"| `{' '.join(path)}` | " + " | ".join(cells) + " |")
    return out + [""]


def render_cli_reference() -> str:
    """Markdown: the exit codes of every command, then every command with its usage, help and options."""
    from agent.cli import cli

    root = click.Context(cli, info_name="zenithlink")
    out = ["# zenithlink command line", "",
           "Generated from the commands themselves (`python -c \"from agent.docgen.cli import *; "
           "print(render_cli_reference())\"`).", "",
           "Listing commands take `--json` and then print one JSON document on stdout and nothing else there.",
           "Without it, a table is drawn for a terminal; on a pipe or into a file (a script, a monitoring probe) "
           "the same title, columns and rows are printed as plain text, columns aligned by spaces and one line "
           "per row, and a listing of more than 1,000 rows as tab-separated lines.", ""]
    out += render_exit_codes(root)
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
