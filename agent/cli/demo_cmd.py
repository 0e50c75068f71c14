"""``demo``: the main job on built-in defaults."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option("--once", is_flag=True, help="Tell the story once, print a summary and exit.")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Working folder for the INI, Dbsys folder and store (default: a new temporary folder).")
@click.option("--port", type=int, default=0, show_default=True,
              help="Port of the sandbox Continuum (0: any free port).")
def demo(once: bool, folder: Path | None, port: int) -> None:
    """Run the agent against a built-in sandbox Continuum with an embedded store: no set-up."""
    from agent.demo import run_demo

    run_demo(folder, once=once, port=port)


commands = [demo]
