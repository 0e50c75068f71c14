"""``zenithlink psa probe``: what an administrator needs to know before zenithlink writes to a
RangerMSP installation, checked on that installation.

Every finding is a row (check, verdict, detail). Verdicts: ``ok``; ``failed`` (the installation
differs from what zenithlink needs: the detail says what to fix); ``not made`` (the check could not
be made, e.g. ``--read-only``); ``manual`` (not visible through the DB API: the detail says what to
look at). The command exits non-zero when one failed or was not made.

The write checks make a marked test account, ticket and note, then remove each with
``CmtDelete``; a record the DLL refuses to delete stays, marked, and the report names it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from agent.backends.rangermsp import fields as F
from agent.backends.rangermsp.host import HostedDllCalls
from agent.backends.rangermsp.messages import Condition
from agent.backends.rangermsp.pe import dll_bits, process_bits
from agent.backends.rangermsp.status import DbApiError, DbApiNotFound
from agent.errors import ConfigError
from agent.ports.psa import PsaError

OK, FAILED, NOT_MADE, MANUAL = "ok", "failed", "not made", "manual"
BAD = (FAILED, NOT_MADE)
TEST_MARK = "zenithlink probe test record: safe to delete"
ROUND_TRIP = "zenithlink probe: it's a café\nsecond line"
PROBE_DATE = datetime(2026, 12, 31, 21, 5)  # a day above 12 and an afternoon: no format reads it twice


@dataclass
class Finding:
    check: str
    verdict: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def probe(psa: Any, *, write_test: str | None = None, read_only: bool = False) -> list[Finding]:
    """The findings on the installation behind ``psa`` (a :class:`RangerMspPsa`)."""
    api = psa.api
    found = [Finding("DB API", OK, f"CmtDbEng.dll and CmtDbQry.dll initialised as {api.app_name!r}, "
                     f"text in code page {api.code_page}")]
    found.append(_bitness(api))
    found.append(_dates(psa))
    found.extend(_fields(psa))
    found.append(_key_field_free(psa))
    found.extend(_queries(api))
    if read_only:
        found.append(Finding("insert, update, read-back", NOT_MADE, "--read-only: run the probe without it to "
                             "check writes (its test records are deleted afterwards)"))
    else:
        found.extend(_write_checks(psa, write_test))
    found.append(Finding("Inbox", MANUAL, "not readable through the DB API: check that tickets zenithlink "
                         "makes appear in RangerMSP's Ticket Inbox"))
    return found


def _bitness(api: Any) -> Finding:
    mine = process_bits()
    folder = api.libs.folder
    dll = folder / "CmtDbQry.dll" if folder is not None else None
    if dll is None or not dll.is_file():
        return Finding("bitness", OK, f"this process is {mine}-bit; no DLL file (the simulator runs in-process)")
    try:
        theirs = dll_bits(dll)
    except ConfigError as exc:
        return Finding("bitness", FAILED, str(exc))
    if isinstance(api.dll, HostedDllCalls) and theirs == 32:
        host = api.dll.host_bits()
        if host != 32:
            return Finding("bitness", FAILED, f"CmtDbQry.dll is 32-bit but the host process msl-loadlib started is "
                           f"{host}-bit: reinstall msl-loadlib (its server32-windows.exe is the 32-bit host)")
        return Finding("bitness", OK, f"CmtDbQry.dll is 32-bit and this process {mine}-bit: the DLLs run in a 32-bit "
                       f"host process (msl-loadlib, process {api.dll.host_pid()}), started {api.dll.starts} "
                       "time(s) so far")
    if theirs != mine:
        return Finding("bitness", FAILED, f"CmtDbQry.dll is {theirs}-bit, this process {mine}-bit: install "
                       f"zenithlink with a {theirs}-bit Python")
    return Finding("bitness", OK, f"CmtDbQry.dll and this process are both {mine}-bit: the DLLs run in this process")


def _dates(psa: Any) -> Finding:
    dates = psa.api.dates
    props = ", ".join(f"{k}={v!r}" for k, v in sorted(psa.api.properties.items()))
    text = dates.format(PROBE_DATE)
    if dates.parse(text) != PROBE_DATE:
        return Finding("date format", FAILED, f"{props}: {PROBE_DATE} is written {text!r} and does not read back; "
                       "report this with the probe's output")
    return Finding("date format", OK, f"{props}: dates are written like {text!r}")


def _fields(psa: Any) -> list[Finding]:
    api, f = psa.api, psa.f
    missing, sizes = [], {}
    for name in f.written_fields():
        try:
            attrs = api.field_attributes(name)
        except DbApiError:
            missing.append(name)
            continue
        sizes[name] = f"{attrs.get('TYPE', '?')}({attrs.get('SIZE', '?')})"
    found = [Finding("field attributes", FAILED if missing else OK,
                     (f"unknown here: {', '.join(missing)}: correct the field map of [RangerMSP]; " if missing else "")
                     + "; ".join(f"{k} {v}" for k, v in sizes.items()))]
    for name, needed in f.key_fields().items():
        if name in missing:
            continue
        size = api.field_size(name)
        if size is not None and size < needed:
            hint = ("choose a larger ticket field with [RangerMSP] ContinuumTicketField="
                    if name == f.continuum_ticket else "enlarge it in RangerMSP")
            found.append(Finding(f"key field {name}", FAILED, f"keeps {size} characters, the key needs {needed} "
                                 f"(RangerMSP would truncate it and it would never be found again): {hint}"))
        else:
            found.append(Finding(f"key field {name}", OK, f"keeps {size or 'any number of'} characters; the key "
                                 f"needs {needed}"))
    return found


def _key_field_free(psa: Any) -> Finding:
    field = psa.f.continuum_ticket
    try:
        used = psa.api.query(F.TICKET, [Condition(field, "like", "_%")], limit=50)
    except PsaError as exc:
        return Finding(f"{field} empty on other tickets", NOT_MADE, f"cannot be queried: {exc}")
    ours = set(psa.side.known_tickets())
    foreign = [rec for rec in used if rec not in ours]
    if foreign:
        return Finding(f"{field} empty on other tickets", FAILED, f"already used on {len(foreign)} ticket(s) "
                       f"zenithlink did not make, e.g. {foreign[0]}: choose an unused ticket field with "
                       "[RangerMSP] ContinuumTicketField=")
    return Finding(f"{field} empty on other tickets", OK, "empty on every ticket zenithlink did not make")


def _queries(api: Any) -> list[Finding]:
    found = []
    try:
        none = api.query(F.TICKET, [Condition(F.TICKET.rec_id_field, "=", "TKT" + "Z" * 17)])
        found.append(Finding("empty query", OK if none == [] else FAILED,
                             "no record matched and the answer was read as empty (110021)" if none == []
                             else f"a query that matches nothing answered {none[:3]}"))
        one = api.query(F.ACCOUNT, [Condition(F.ACCOUNT.rec_id_field, "like", "CRD%")], limit=1)
        found.append(Finding("MaxRecordCount=1 query", OK if len(one) <= 1 else FAILED,
                             f"answered {len(one)} REC ID(s)"))
        if one:
            bogus = "CRD" + "Z" * 17
            many = api.get_many(F.ACCOUNT, [*one, bogus], [F.ACCOUNT.rec_id_field])
            good = set(many) == set(one)
            found.append(Finding("multi-record read", OK if good else FAILED,
                                 f"{one[0]} read and a bogus REC ID left out in one call" if good else
                                 f"CmtGetMultiRecordDataByRecId answered {sorted(many)[:3]}: report this output"))
    except PsaError as exc:
        found.append(Finding("queries", FAILED, str(exc)))
    try:
        api.get("TKT" + "Z" * 17, [F.TICKET.rec_id_field])
        found.append(Finding("bogus REC ID", FAILED, "a REC ID that names nothing answered a record"))
    except DbApiNotFound:
        found.append(Finding("bogus REC ID", OK, "answered 'no such record' (150003)"))
    except PsaError as exc:
        found.append(Finding("bogus REC ID", FAILED, f"answered an unexpected error: {exc}"))
    return found


def _write_checks(psa: Any, account: str | None) -> list[Finding]:
    api, f = psa.api, psa.f
    if psa.paused_by() is not None:
        return [Finding("insert, update, read-back", NOT_MADE, f"RangerMSP is in maintenance ({psa.paused_by()})")]
    made: list[tuple[F.Kind, str]] = []
    found: list[Finding] = []
    try:
        if account is None:
            account = api.insert(F.ACCOUNT, {f.account_name: TEST_MARK, f.account_notes: TEST_MARK}).rec_id
            made.append((F.ACCOUNT, account))
        ticket = api.insert(F.TICKET, {f.ticket_account: account, f.ticket_description: ROUND_TRIP}).rec_id
        made.append((F.TICKET, ticket))
        row = api.get(ticket, f.ticket_fields())
        found.append(Finding("insert and read-back", OK, f"ticket {ticket} (no. {row.get(f.ticket_no, '?')})"))
        back = row.get(f.ticket_description, "")
        found.append(Finding("quote, accent, line break", OK if back == ROUND_TRIP else FAILED,
                             "read back as written" if back == ROUND_TRIP else
                             f"wrote {ROUND_TRIP!r}, read {back!r}: such text is changed by RangerMSP"))
        status = row.get(f.ticket_status, "")
        name = F.FIXED_STATUSES.get(int(status), "not one of the fixed statuses") if status.isdigit() else "none"
        found.append(Finding("status of a new ticket", OK if status == str(f.status_new) else FAILED,
                             f"{status or '(none)'} ({name}); zenithlink writes {f.status_new} for New"
                             + ("" if status == str(f.status_new) else f": set [RangerMSP] NewTicketStatus={status}")))
        api.update(F.TICKET, ticket, {f.ticket_description: TEST_MARK})
        after = api.get(ticket, [f.ticket_description, f.ticket_account]).get(f.ticket_description, "")
        found.append(Finding("update", OK if after == TEST_MARK else FAILED,
                             "the REC ID sent as FLDTKTRECID updated the ticket" if after == TEST_MARK
                             else f"read {after!r} after the update"))
        marker = F.KEY_MARKER.format("0" * F.KEY_HASH_LENGTH)
        note = api.insert(F.HISTORY, {f.history_ticket: ticket, f.history_account: account,
                                      f.history_at: api.dates.format(PROBE_DATE),
                                      f.history_text: f"{TEST_MARK}\n{marker}"}).rec_id
        made.append((F.HISTORY, note))
        by_marker = api.query(F.HISTORY, [Condition(f.history_text, "like", f"%{marker}%")])
        found.append(Finding("note found by its marker", OK if note in by_marker else FAILED,
                             f"{note} found by a query on {f.history_text}" if note in by_marker else
                             f"a query for the marker answered {by_marker[:3]}: notes cannot be found again"))
        at = api.get(note, [f.history_at]).get(f.history_at, "")
        try:
            same = api.dates.parse(at) == PROBE_DATE
        except ValueError:
            same = False
        found.append(Finding("note date", OK if same else FAILED, f"{PROBE_DATE:%Y-%m-%d %H:%M} written "
                             f"{api.dates.format(PROBE_DATE)!r}, read {at!r}"))
    except PsaError as exc:
        found.append(Finding("insert, update, read-back", FAILED, str(exc)))
    found.append(_clean_up(api, made))
    return found


def _clean_up(api: Any, made: list[tuple[F.Kind, str]]) -> Finding:
    deleted, kept = [], []
    for kind, rec_id in reversed(made):
        try:
            api.delete(kind, rec_id)
            deleted.append(rec_id)
        except PsaError:
            kept.append(rec_id)
    if kept:
        return Finding("test records", FAILED, f"deleted {', '.join(deleted) or 'none'}; RangerMSP refused to delete "
                       f"{', '.join(kept)}, each marked {TEST_MARK!r}: delete them in RangerMSP")
    return Finding("test records", OK, f"deleted with CmtDelete: {', '.join(deleted) or 'none made'}")
