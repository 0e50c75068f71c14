"""The DB API's status codes, each turned into the agent's neutral PSA errors with a sentence that
says what to do (the contract's table "Error codes")."""

from __future__ import annotations

from agent.errors import ConfigError
from agent.ports.psa import PsaError, PsaNotFound, PsaRejected, PsaUnavailable

SUCCESS = 1
BAD_APP_NAME = 1015
DB_ACCESS = 1100
BUFFER_TOO_SMALL = 110004
MORE_RECORDS = 110019
NO_RECORDS = 110021
NOT_FOUND = frozenset({150003, 150008, 150006, 150007})
QUERY_BUGS = frozenset({110001, 110002, 110003, 110005, 110008, 150004, 150005})
INVALID_XML = 150001
UNKNOWN_FIELD = 150002

MEANINGS = {
    1015: "the application name is not 3 to 15 characters long",
    1100: "the RangerMSP database could not be accessed (busy or locked)",
    110001: "the query names no data kind", 110002: "the query has the wrong root element",
    110003: "the query asks for a bad record count", 110004: "the answer did not fit the buffer",
    110005: "the query's filter is malformed", 110008: "the query names an unknown data kind",
    110019: "more records matched than were asked for", 110021: "no record matched",
    150001: "the XML or the data is invalid", 150002: "a field name is unknown to this RangerMSP version",
    150003: "no record has that REC ID", 150004: "the XML version is not supported",
    150005: "the XML version is missing", 150006: "the REC ID is a placeholder",
    150007: "the REC ID is a placeholder", 150008: "the REC ID is not valid",
}


class DbApiError(PsaError):
    """A status other than success from the DB API; ``status`` is the code, ``call`` the function."""

    def __init__(self, message: str, *, status: int, call: str) -> None:
        super().__init__(message)
        self.status, self.call = status, call


class DbApiBusy(DbApiError, PsaUnavailable):
    """1100: the database is busy; the same call may work later."""


class DbApiNotFound(DbApiError, PsaNotFound):
    """150003/150006/150007/150008: no such record (merged away, deleted, or a placeholder)."""


class DbApiRefused(DbApiError, PsaRejected):
    """The DB API refused the call for good: a bug in the request or a field map that does not fit."""


def error_for(status: int, call: str, detail: str = "", *, vendor_text: str = "") -> DbApiError:
    """The error for a status code, with what to do about it."""
    meaning = MEANINGS.get(status, "an error this version of zenithlink does not know")
    said = f" (RangerMSP says: {vendor_text.strip()})" if vendor_text.strip() else ""
    extra = f": {detail}" if detail else ""
    head = f"RangerMSP's {call} answered {status}, {meaning}{said}{extra}"
    if status == DB_ACCESS:
        return DbApiBusy(f"{head}. The agent retries; if this lasts, check that the RangerMSP server "
                         "is running and not in maintenance.", status=status, call=call)
    if status in NOT_FOUND:
        return DbApiNotFound(f"{head}. The record may have been merged or deleted in RangerMSP.",
                             status=status, call=call)
    if status == UNKNOWN_FIELD:
        return DbApiRefused(f"{head}. The field map does not fit this RangerMSP version: run "
                            "'zenithlink psa probe' and correct the field keys of [RangerMSP].",
                            status=status, call=call)
    if status in QUERY_BUGS or status == INVALID_XML:
        return DbApiRefused(f"{head}. This is a bug in zenithlink: please report it with the log.",
                            status=status, call=call)
    return DbApiRefused(f"{head}.", status=status, call=call)


def app_name_problem(name: str) -> str | None:
    """Why an application name cannot be used, or ``None`` (the DLLs answer 1015 otherwise)."""
    if not 3 <= len(name) <= 15:
        return (f"[RangerMSP] ApplicationName={name!r} must be 3 to 15 characters long "
                "(RangerMSP shows it as the author of every change)")
    return None


def config_error(problem: str) -> ConfigError:
    return ConfigError([problem])
