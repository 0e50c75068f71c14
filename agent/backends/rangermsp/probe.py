"""``zenithlink psa probe``: what of the contract's fields and assumptions holds on this installation.

Read-only unless ``write_test`` names an account: then one clearly marked test ticket with a
history note is created and read back. Every finding is a row (check, verdict, detail); the
verdicts are ``ok``, ``differs`` (the backend's assumption does not hold: see docs/rangermsp.md)
and ``unknown`` (nothing to look at, e.g. no ticket yet, or not readable through the API).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from agent.backends.rangermsp import fields as F
from agent.backends.rangermsp.messages import Condition
from agent.backends.rangermsp.status import DbApiError

OK, DIFFERS, UNKNOWN = "ok", "differs", "unknown"
TEST_MARK = "zenithlink probe test ticket: safe to delete"


@dataclass
class Finding:
    check: str
    verdict: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def probe(psa: Any, *, write_test: str | None = None) -> list[Finding]:
    """The findings on the installation behind ``psa`` (a :class:`RangerMspPsa`)."""
    api, f = psa.api, psa.f
    found = [Finding("DB API", OK, f"CmtDbEng.dll and CmtDbQry.dll initialised as {api.app_name!r}")]
    kinds = ((F.ACCOUNT, f.account_fields()), (F.ASSET, f.asset_fields()), (F.TICKET, f.ticket_fields()),
             (F.HISTORY, f.history_fields()))
    samples: dict[str, dict[str, str]] = {}
    for kind, names in kinds:
        sample = _first(api, kind)
        if sample is None:
            found.append(Finding(f"{kind.datakind} fields", UNKNOWN, "no record of this kind to read"))
            continue
        row, missing = _fields(api, sample, names)
        samples[kind.prefix] = row
        detail = f"unknown here: {', '.join(missing)}" if missing else f"all {len(names)} read from {sample}"
        found.append(Finding(f"{kind.datakind} fields", DIFFERS if missing else OK, detail))
    found.append(_dates(samples.get(F.HISTORY.prefix), f.history_at, f.date_format))
    found.append(_continuum_field(psa))
    found.append(Finding("Inbox flag", UNKNOWN, "not readable through the DB API: the agent keeps it; check that "
                         "tickets zenithlink makes appear in RangerMSP's Ticket Inbox"))
    if write_test:
        found.extend(_write_test(psa, write_test))
    return found


def _first(api: Any, kind: F.Kind) -> str | None:
    ids = api.query(kind, [Condition(kind.rec_id_field, "LIKE", kind.prefix + "%")], limit=1)
    return ids[0] if ids else None


def _fields(api: Any, rec_id: str, names: list[str]) -> tuple[dict[str, str], list[str]]:
    try:
        return api.get(rec_id, names), []
    except DbApiError:
        pass
    row: dict[str, str] = {}
    missing = []
    for name in names:  # one by one, to name the field the installation does not know
        try:
            row.update(api.get(rec_id, [name]))
        except DbApiError:
            missing.append(name)
    return row, missing


def _dates(note: dict[str, str] | None, field: str, date_format: str) -> Finding:
    value = (note or {}).get(field, "")
    if not value:
        return Finding("date format", UNKNOWN, "no history note with a date to read")
    try:
        datetime.strptime(value.strip(), date_format)
    except ValueError:
        return Finding("date format", DIFFERS, f"{value!r} does not read as {date_format}: set [RangerMSP] "
                       "DateFormat= to the format it is in")
    return Finding("date format", OK, f"{value!r} reads as {date_format}")


def _continuum_field(psa: Any) -> Finding:
    field = psa.f.continuum_ticket
    try:
        used = psa.api.query(F.TICKET, [Condition(field, "LIKE", "_%")], limit=50)
    except DbApiError as exc:
        return Finding(f"{field} free", DIFFERS, f"cannot be queried: {exc}")
    ours = set(psa.side.known_tickets())
    foreign = [rec for rec in used if rec not in ours]
    if foreign:
        return Finding(f"{field} free", DIFFERS, f"already used on {len(foreign)} ticket(s) zenithlink did not "
                       f"make, e.g. {foreign[0]}: choose another field with ContinuumTicketField=")
    return Finding(f"{field} free", OK, "empty on every ticket zenithlink did not make")


def _write_test(psa: Any, account: str) -> list[Finding]:
    api, f = psa.api, psa.f
    psa._check_writable()
    rec_id = api.insert(F.TICKET, {f.ticket_account: account, f.ticket_description: TEST_MARK})
    row = api.get(rec_id, f.ticket_fields())
    status = row.get(f.ticket_status, "")
    findings = [Finding("test ticket", OK, f"created {rec_id} (ticket no. {row.get(f.ticket_no, '?')}) in {account}"),
                Finding("status of a new ticket", OK if status == str(f.status_new) else DIFFERS,
                        f"{status or '(none)'}; zenithlink writes {f.status_new} for New"
                        + ("" if status == str(f.status_new) else f": set [RangerMSP] NewTicketStatus={status}"))]
    note = psa.add_history(rec_id, TEST_MARK)
    text = psa.get_ticket(rec_id).history
    findings.append(Finding("test history note", OK if any(n.rec_id == note for n in text) else DIFFERS,
                            f"{note} read back with the ticket"))
    findings.append(Finding("test ticket in the Inbox", UNKNOWN, f"look for ticket {rec_id} in RangerMSP's "
                            "Ticket Inbox (the DB API does not show it); delete it there afterwards"))
    return findings
