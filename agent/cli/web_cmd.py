"""``zenithlink web`` (serve the web console) and ``zenithlink employees set-password``."""

from __future__ import annotations

import sys

import click

from agent.cli.output import done
from agent.cli.records_cmd import employees
from agent.errors import UsageError


@click.command("web")
@click.option("--listen", default=None, metavar="HOST:PORT",
              help="Address and port (default: [Web] Listen, 127.0.0.1:8470).")
@click.pass_obj
def web(app, listen: str | None) -> None:
    """Serve the web console until stopped (Ctrl-C)."""
    from agent.web.server import WebServer, resolve_listen

    where = resolve_listen(app.settings, listen)
    app.state  # noqa: B018 - open (and migrate) the store before the first page asks for it
    server = WebServer(app, where)
    click.echo(f"Web console at {where.url()} (Ctrl-C to stop).", err=True)
    server.serve()


@employees.command("set-password")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_obj
def set_password(app, login: str, password_stdin: bool) -> None:
    """Set the web console password of an employee (asked twice on a terminal); ends their sessions."""
    from agent.web.auth import set_password as store_password

    app.state.get_employee(login)  # an unknown login is told so before any password is asked
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat it")
    if not password:
        raise UsageError("no password given")
    stored = store_password(app, login, password, by=app.user)
    done(f"Web console password of {stored} set; any session of {stored} was signed out.")


commands = [web]
