"""``run``: the service."""

from __future__ import annotations

import click


@click.command("run")
@click.option("--once", is_flag=True, help="One full cycle (inventory, requests, queue, outbox), then exit.")
@click.pass_obj
def run(app, once: bool) -> None:
    """Run the agent: inventory, queue, requests, outbox, watchers (until SIGTERM/Ctrl-C)."""
    from agent.runtime.service import Service

    app.require_continuum()
    Service(app, once=once).run()


commands = [run]
