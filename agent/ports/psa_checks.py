"""The checks of what a PSA backend is asked to write that do not depend on the backend: a name
an account or an asset must have, a ticket's description, a merge of two accounts, an account
deleted while it holds records. Every backend calls these, so that each rule, and the sentence
that explains it, is written once; what only a backend knows (RangerMSP's field sizes, whether
a REC ID is its) stays in the backend.
"""

from __future__ import annotations

from agent.ports.psa import PsaNotFound, PsaRejected

#: What lists each kind of record, for the sentence of a REC ID not found.
_LISTED_BY = {"account": "accounts", "asset": "assets", "ticket": "tickets"}


def account_name(name: str | None) -> str:
    """The account's name as it is stored (surrounding blanks off); refused when blank."""
    return _required(name, "an account needs a name")


def asset_name(name: str | None) -> str:
    """The asset's name as it is stored (surrounding blanks off); refused when blank."""
    return _required(name, "an asset needs a name")


def ticket_description(description: str | None) -> str:
    """The ticket's description, kept as written; refused when blank."""
    _required(description, "a ticket needs a description")
    return description or ""


def merge(source: str, into: str) -> None:
    """An account is merged into another one, never into itself."""
    if source == into:
        raise PsaRejected("an account cannot be merged into itself")


def deletable(rec_id: str, *, tickets: int, assets: int) -> None:
    """An account is deleted only while it holds no ticket and no asset."""
    if tickets or assets:
        raise PsaRejected(f"account {rec_id} has {tickets} ticket(s) and {assets} asset(s); it cannot be "
                          "deleted while it has any")


def not_found(kind: str, rec_id: str) -> PsaNotFound:
    """The error for a REC ID of ``kind`` ("account", "asset", "ticket") that the PSA does not hold."""
    return PsaNotFound(f"no {kind} with REC ID {rec_id!r}; 'zenithlink {_LISTED_BY[kind]} list' shows them")


def no_ticket_number(ticket_no: int, where: str = "") -> PsaNotFound:
    """The error for a ticket number the PSA does not hold (``where``: " in RangerMSP", say)."""
    return PsaNotFound(f"no ticket number {ticket_no}{where}; 'zenithlink tickets list' shows them")


def _required(text: str | None, message: str) -> str:
    stripped = (text or "").strip()
    if not stripped:
        raise PsaRejected(message)
    return stripped
