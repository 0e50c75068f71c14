"""``zenithlink employees set-group|remove`` and ``zenithlink groups grant|revoke``: who may act (R21)."""

from __future__ import annotations

import click

from agent.cli.options import privileged_user_option
from agent.cli.output import done
from agent.cli.records_cmd import employees, groups
from agent.sync import people


@employees.command("set-group")
@click.argument("login")
@click.argument("group")
@privileged_user_option
@click.pass_obj
def employees_set_group(app, login: str, group: str, user: str | None) -> None:
    """Move employee LOGIN to privilege group GROUP."""
    previous = people.set_group(app.state, app.psa, login, group, user)
    done(f"Employee {login} moved from group {previous!r} to {group!r}.")


@employees.command("remove")
@click.argument("login")
@privileged_user_option
@click.pass_obj
def employees_remove(app, login: str, user: str | None) -> None:
    """Remove employee LOGIN (their web console password and sessions go with them)."""
    removed = people.remove_employee(app.state, app.psa, login, user)
    done(f"Employee {removed['login']} ({removed['name']}) removed.")


@groups.command("grant")
@click.argument("group")
@privileged_user_option
@click.pass_obj
def groups_grant(app, group: str, user: str | None) -> None:
    """Grant the Continuum Integration privilege to privilege group GROUP."""
    held = people.set_continuum(app.state, app.psa, group, True, user)
    done(f"Group {group!r} " + ("holds the Continuum Integration privilege already; nothing changed." if held
                                else "now holds the Continuum Integration privilege."))


@groups.command("revoke")
@click.argument("group")
@privileged_user_option
@click.pass_obj
def groups_revoke(app, group: str, user: str | None) -> None:
    """Revoke the Continuum Integration privilege of privilege group GROUP."""
    held = people.set_continuum(app.state, app.psa, group, False, user)
    done(f"Group {group!r} " + ("no longer holds the Continuum Integration privilege." if held
                                else "does not hold the Continuum Integration privilege; nothing changed."))


# The commands join the ``employees`` and ``groups`` groups on import.
commands: list = []
