"""``zenithlink web`` (serve the web console) and ``zenithlink employees set-password``."""

from __future__ import annotations

import getpass
import sys

import click

from agent.cli.options import user_option
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
@user_option
@click.pass_obj
def set_password(app, login: str, password_stdin: bool, user: str | None) -> None:
    """Set the web console password of an employee (asked twice on a terminal); ends their sessions."""
    from agent.web.auth import set_password as store_password

    app.state.get_employee(login)  # an unknown login is told so before any password is asked
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat it")
    if not password:
        raise UsageError("no password given")
    stored = store_password(app, login, password, by=who_on_the_server(user or app.user))
    done(f"Web console password of {stored} set; any session of {stored} was signed out.")


def who_on_the_server(login: str | None) -> str:
    """Who acts, for the audit log: the operating-system account running the command, after the
    employee login given with --user if any. An administrator setting someone's password on the
    server is not that someone."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name in the environment nor the user database
        name = "unknown"
    return f"{login}, server account {name}" if login else f"server account {name}"


commands = [web]
