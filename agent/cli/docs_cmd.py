"""``docs``: the documentation, from the installed package."""

from __future__ import annotations

import click

from agent.cli.output import table


@click.command("docs")
@click.argument("name", required=False)
def docs(name: str | None) -> None:
    """Print a documentation page (e.g. 'troubleshooting', 'service', 'ini-reference'); without NAME,
    list the pages."""
    from agent import manual

    if name is None:
        table("Documentation pages ('zenithlink docs NAME' prints one)", ["name", "title"], manual.pages().items())
        return
    click.echo(manual.read(name), nl=False)


commands = [docs]
