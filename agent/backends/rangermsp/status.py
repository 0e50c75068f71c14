"""The DB API's status values (the ``int*`` status) and result codes (``<ResultCodes>`` and the
write's error-codes buffer), and what each means to the agent: the one status table.

Sources (../references/rangermsp-api-facts.md): the texts are the DLL's own (S2, §4.6/§4.7); how
the vendor reads them is the vendor wrapper's (S1, §4.5): only the ``int*`` status and the codes,
never the ``<Status>`` text; 1020 (and 110004 with status 1) = grow the buffer and call again;
110021 = an empty answer, 110019 = more records matched than asked for (both with status 1).
"""

from __future__ import annotations

from agent.ports.psa import PsaError, PsaNeedsRestart, PsaNotFound, PsaRejected, PsaUnavailable

SUCCESS = 1
# Status values (S2 §4.6).
NOT_INITIALISED = 1008
BAD_DB_FOLDER = frozenset({1009, 1010})
BAD_APP_NAME = 1015
BAD_REC_ID = 1017
BUFFER_TOO_SMALL = 1020
MAINTENANCE = 1022
NEWER_API = 1023
DB_ACCESS = 1100
GENERAL = 2000
# Result codes (S2 §4.7; 110004 only in the vendor wrapper S1 §4.5, as "buffer too small").
TRUNCATED = 50001
BUFFER_TOO_SMALL_CODE = 110004
BAD_FILTER = 110005
MORE_RECORDS = 110019
NO_RECORDS = 110021
NOT_FOUND = frozenset({150003, 150006, 150007, 150009, 1019})
UNKNOWN_FIELD = frozenset({150002, 150010})

STATUS_TEXTS = {
    1: "success",
    1008: "the DLL is not initialised", 1009: "the database folder was not found",
    1010: "the database folder is not a RangerMSP database", 1015: "the application name is not 3 to 15 characters",
    1017: "a REC ID is not 20 characters", 1019: "the REC ID points to nothing",
    1020: "the answer did not fit the buffer", 1022: "RangerMSP is in periodic maintenance",
    1023: "a newer version of RangerMSP's API was installed", 1100: "the database could not be accessed",
    2000: "a general error occurred", 3100: "an SQL error occurred",
}
CODE_TEXTS = {
    50001: "a value was truncated to its field's size", 50115: "mandatory fields have no value",
    51000: "illegal account entity kind", 54005: "illegal ticket status", 54006: "the ticket's account was not found",
    59001: "invalid asset type", 59002: "invalid asset status", 110001: "the query names no data kind",
    110002: "the query has the wrong root element", 110003: "the query asks for a bad record count",
    110004: "the answer did not fit the buffer", 110005: "the query's filter is malformed",
    110008: "the query names an unknown data kind", 110019: "more records matched than were asked for",
    110021: "no record matched", 150001: "the XML is invalid", 150002: "a field name is unknown",
    150003: "no record has that REC ID", 150010: "a field name does not exist",
}


class DbApiError(PsaError):
    """A failure reported by the DB API: ``status`` is the ``int*`` status, ``codes`` the result codes."""

    def __init__(self, message: str, *, status: int, call: str, codes: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.status, self.call, self.codes = status, call, codes


class DbApiBusy(DbApiError, PsaUnavailable):
    """1100: the database could not be accessed; the call may have committed (a write is resolved
    by looking its key up before it is made again)."""


class DbApiMaintenance(DbApiError, PsaUnavailable):
    """1022: periodic maintenance; pause and try again later."""


class DbApiRestart(DbApiError, PsaNeedsRestart):
    """1023, or an Init that failed: the loaded DLL cannot recover; the process must restart."""


class DbApiNotFound(DbApiError, PsaNotFound):
    """150003 and kin: no such record (merged, deleted, or a placeholder)."""


class DbApiRefused(DbApiError, PsaRejected):
    """The DB API refused the call for good."""


def describe(status: int, codes: tuple[int, ...] = ()) -> str:
    parts = [f"{status} ({STATUS_TEXTS.get(status, 'a status this version of zenithlink does not know')})"]
    parts += [f"{c} ({CODE_TEXTS.get(c, 'see RangerMSP API documentation')})" for c in codes]
    return ", ".join(parts)


def error_for(status: int, call: str, detail: str = "", *, codes: tuple[int, ...] = (),
              vendor_text: str = "") -> DbApiError:
    """The error for a failed call, with what to do about it."""
    said = f" (RangerMSP says: {vendor_text.strip()})" if vendor_text.strip() else ""
    extra = f": {detail}" if detail else ""
    head = f"RangerMSP's {call} answered {describe(status, codes)}{said}{extra}"

    def make(cls: type[DbApiError], text: str) -> DbApiError:
        return cls(text, status=status, call=call, codes=codes)

    if status == DB_ACCESS:
        return make(DbApiBusy, f"{head}. The agent tries again later; if this lasts, check that the RangerMSP "
                         "database server is running.")
    if status == MAINTENANCE:
        return make(DbApiMaintenance, f"{head}. zenithlink pauses and tries again in a few minutes.")
    if status == NEWER_API:
        return make(DbApiRestart, f"{head}. Restart the zenithlink service so that it loads the new DLLs.")
    if status in BAD_DB_FOLDER:
        return make(DbApiRefused, f"{head}. Set [RangerMSP] RangerMSPFolder= to the folder that holds Db, then "
                            "restart the service.")
    if status in NOT_FOUND or any(c in NOT_FOUND for c in codes):
        return make(DbApiNotFound, f"{head}. The record may have been merged or deleted in RangerMSP.")
    if any(c in UNKNOWN_FIELD for c in codes):
        return make(DbApiRefused, f"{head}. The field map does not fit this RangerMSP version: run "
                            "'zenithlink psa probe' and correct the field keys of [RangerMSP].")
    if any(110001 <= c <= 110008 or c in (150001, 150004, 150005) for c in codes):
        return make(DbApiRefused, f"{head}. This is a bug in zenithlink: please report it with the log.")
    return make(DbApiRefused, f"{head}.")


def init_failed(status: int, call: str) -> DbApiRestart:
    """A failed Init: the DLL keeps its status for the life of the process (S2 §6, "Init and
    termination state machine"), so calling it again is pointless."""
    return DbApiRestart(f"RangerMSP's {call} answered {describe(status)}. The DLL keeps a failed "
                        "initialisation until the process ends: correct the cause, then restart zenithlink.",
                        status=status, call=call)


def app_name_problem(name: str) -> str | None:
    """Why an application name cannot be used, or ``None`` (the DLLs answer 1015 otherwise)."""
    if not 3 <= len(name) <= 15:
        return (f"[RangerMSP] ApplicationName={name!r} must be 3 to 15 characters long "
                "(RangerMSP shows it as the author of every change)")
    return None
