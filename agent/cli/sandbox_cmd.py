"""``sandbox``: serve the sandbox Continuum PSA API until Ctrl-C or SIGTERM."""

from __future__ import annotations

import ipaddress
import signal
import threading

import click

from agent.sandbox import SandboxServer


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--psg", default="demo", show_default=True, help="The Security Code clients must send as X-PSG.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the generated world.")
@click.option("--sites", default=20, show_default=True, type=click.IntRange(0), help="Number of sites.")
@click.option("--devices", default=200, show_default=True, type=click.IntRange(0), help="Number of devices.")
@click.option("--tickets", default=10, show_default=True, type=click.IntRange(0),
              help="Tickets already waiting in the change feed at start.")
def sandbox(host: str, port: int, psg: str, seed: int, sites: int, devices: int, tickets: int) -> None:
    """Serve the Continuum PSA API sandbox; prints its base URL, stops on Ctrl-C or SIGTERM."""
    if not _loopback(host):
        click.echo(f"warning: the sandbox listens on {host}, beyond this machine: anyone on the network can use it, "
                   "and its admin endpoints (/sandbox/) ask for no PSG at all. It is for tests only; never give it "
                   "a real PSG or real data.", err=True)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = SandboxServer(psg=psg, seed=seed, sites=sites, devices=devices, tickets=tickets,
                           host=host, port=port)
    try:
        server.start()
        click.echo(server.url, nl=True)
        click.echo(f"API under {server.url}/psa/v1/ (send the X-PSG header); admin under {server.url}/sandbox/. "
                   "Ctrl-C stops.", err=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)


def _loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


commands = [sandbox]
