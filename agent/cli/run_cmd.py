"""``run``: the service."""

from __future__ import annotations

import click


@click.command("run")
@click.option("--once", is_flag=True, help="One full cycle (inventory, requests, queue, outbox), then exit.")
@click.pass_obj
def run(app, once: bool) -> None:
    """Run the agent: inventory, queue, requests, outbox, watchers (until SIGTERM/Ctrl-C)."""
    from agent.runtime.service import Service

    app.require_service()
    console = _start_console(app) if app.settings.web_enabled and not once else None
    try:
        Service(app, once=once).run()
    finally:
        if console is not None:
            console.stop()


def _start_console(app):
    """``[Web] Enabled=Y``: the web console, served in a thread beside the service's workers."""
    from agent.web.server import WebServer, resolve_listen

    server = WebServer(app, resolve_listen(app.settings))
    server.start()
    return server


commands = [run]
