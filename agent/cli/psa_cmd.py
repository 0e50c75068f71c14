"""``zenithlink psa probe``: check the PSA backend's assumptions on this server (Backend=rangermsp)."""

from __future__ import annotations

import sys

import click

from agent.cli.output import emit_json, table
from agent.errors import UsageError
from agent.ports.recid import is_rec_id

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


@click.group("psa")
def psa_group() -> None:
    """The PSA backend (RangerMSP's database)."""


@psa_group.command("probe")
@click.option("--write-test", "write_test", metavar="ACCOUNT_REC_ID", default=None,
              help="Also create one marked test ticket with a history note in this account and read both back.")
@json_option
@click.pass_obj
def probe(app, write_test: str | None, as_json: bool) -> None:
    """Read (never write, unless --write-test) one account, asset, ticket and note, and report which
    of the contract's fields and assumptions hold on this installation. Exit code 1 when one differs."""
    if write_test and not is_rec_id(write_test, "account"):
        raise UsageError(f"--write-test {write_test!r} is not an account REC ID (CRD followed by 17 characters)")
    psa = app.psa
    run = getattr(psa, "probe", None)
    if run is None:
        raise UsageError(f"[RangerMSP] Backend={app.settings.psa_backend} has nothing to probe: the probe checks "
                         "RangerMSP's DB API (Backend=rangermsp)")
    findings = run(write_test=write_test)
    differs = [f for f in findings if f.verdict == "differs"]
    if as_json:
        emit_json({"backend": app.settings.psa_backend, "findings": [f.as_dict() for f in findings],
                   "differs": len(differs)})
    else:
        table(f"RangerMSP probe ({app.settings.psa_backend})", ["check", "verdict", "detail"],
              [(f.check, f.verdict, f.detail) for f in findings])
        if differs:
            click.echo(f"{len(differs)} finding(s) differ from what zenithlink assumes: see docs/rangermsp.md, "
                       "'When the probe finds a difference'.", err=True)
    if differs:
        sys.exit(1)


commands = [psa_group]
