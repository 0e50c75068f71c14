"""``zenithlink psa probe``: check the PSA backend's assumptions on this server (Backend=rangermsp)."""

from __future__ import annotations

import sys
from typing import Any

import click

from agent.cli.options import json_option
from agent.cli.output import done, emit_json, table
from agent.errors import UsageError
from agent.ports.psa import PsaAdministration
from agent.ports.recid import is_rec_id


@click.group("psa")
def psa_group() -> None:
    """The PSA backend (RangerMSP's database)."""


@psa_group.command("probe")
@click.option("--write-test", "write_test", metavar="ACCOUNT_REC_ID", default=None,
              help="Make the test ticket and note in this account instead of in a test account of their own.")
@click.option("--read-only", "read_only", is_flag=True,
              help="Write nothing: the insert, update and read-back checks are then not made (exit 1).")
@json_option
@click.pass_obj
def probe(app, write_test: str | None, read_only: bool, as_json: bool) -> None:
    """Check, on this installation, what zenithlink needs of RangerMSP's DB API: bitness, system
    properties and date format, the attributes of every field used, key fields that fit and are
    unused, queries, and an insert, update and read-back of marked test records, which are deleted
    afterwards. Exit code 1 when a check fails or cannot be made."""
    if write_test and not is_rec_id(write_test, "account"):
        raise UsageError(f"--write-test {write_test!r} is not an account REC ID (CRD followed by 17 characters)")
    findings = _administration(app, "the probe").probe(write_test=write_test, read_only=read_only)
    bad = [f for f in findings if f.verdict in ("failed", "not made")]
    if as_json:
        emit_json({"backend": app.settings.psa_backend, "findings": [f.as_dict() for f in findings],
                   "failed": len(bad)})
    else:
        table(f"RangerMSP probe ({app.settings.psa_backend})", ["check", "verdict", "detail"],
              [(f.check, f.verdict, f.detail) for f in findings])
        if bad:
            click.echo(f"{len(bad)} check(s) failed or could not be made: each detail says what to fix; see "
                       "'zenithlink docs rangermsp', 'When the probe finds a difference'.", err=True)
    if bad:
        sys.exit(1)


def _administration(app: Any, what: str) -> PsaAdministration:
    administration = app.psa.administration
    if administration is None:
        raise UsageError(f"[RangerMSP] Backend={app.settings.psa_backend} keeps its own employees and has no DB API "
                         f"to check: {what} is for Backend=rangermsp")
    return administration


@psa_group.command("map-employee")
@click.argument("login")
@click.argument("employee_rec_id")
@click.pass_obj
def map_employee(app, login: str, employee_rec_id: str) -> None:
    """Name RangerMSP employee EMPLOYEE_REC_ID as the manager wherever zenithlink names employee LOGIN."""
    login = app.state.get_employee(login)["login"]  # raises when there is no such employee
    _administration(app, "map-employee").map_employee(login, employee_rec_id)
    done(f"Employee {login} is RangerMSP employee {employee_rec_id}.")


@psa_group.command("employees")
@json_option
@click.pass_obj
def employees(app, as_json: bool) -> None:
    """The employees and the RangerMSP employee REC ID each is written as (unmapped: none)."""
    mapped = dict(_administration(app, "employees").employee_map())
    rows = [(e["login"], mapped.get(e["login"], "")) for e in app.state.list_employees()]
    if as_json:
        emit_json([{"login": login, "rangermsp_rec_id": rec_id or None} for login, rec_id in rows])
        return
    table("Employees in RangerMSP", ["login", "RangerMSP employee REC ID"],
          [(login, rec_id or "(not mapped: no manager is written)") for login, rec_id in rows])


commands = [psa_group]
