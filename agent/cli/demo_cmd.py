"""``demo``: the main job on built-in defaults."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option("--once", is_flag=True, help="Tell the story once, print a summary and exit.")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Working folder for the INI, Dbsys folder and store (default: a new temporary folder, removed "
                   "at the end). It must be new, empty, or one the demo made: there a new run starts over, keeping "
                   "the keys you added to its INI. Any other folder is refused (exit 2).")
@click.option("--port", type=int, default=0, show_default=True,
              help="Port of the sandbox RMM (0: any free port).")
@click.option("--psa", type=click.Choice(["embedded", "rangermsp-simulator"]), default="embedded", show_default=True,
              help="The PSA backend: the embedded store, or RangerMSP's DB API over the project's simulator of it.")
@click.option("--rmm", type=click.Choice(["continuum", "nsight", "ninjaone"]), default="continuum", show_default=True,
              help="The RMM: a sandbox Continuum, or a sandbox N-able N-sight or NinjaOne (failing checks, open "
                   "alerts, become tickets).")
def demo(once: bool, folder: Path | None, port: int, psa: str, rmm: str) -> None:
    """Run the agent against a built-in sandbox RMM (Continuum, N-sight or NinjaOne) with an embedded store."""
    from agent.demo import Demo, run_demo

    story = Demo
    if rmm == "nsight":
        from agent.demo_nsight import NsightDemo

        story = NsightDemo
    elif rmm == "ninjaone":
        from agent.demo_ninjaone import NinjaOneDemo

        story = NinjaOneDemo
    run_demo(folder, once=once, port=port, psa=psa, story=story)


commands = [demo]
