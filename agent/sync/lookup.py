"""Naming a PSA record the way a person does: by REC ID, or by its exact name (case and
surrounding blanks ignored). A name that several records share is refused, listing them: the
agent never picks one of them silently."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from agent.errors import NotFoundError, UsageError
from agent.ports.psa import STATUS_NAMES, Account, Asset, PsaNotFound, PsaStore
from agent.ports.recid import is_rec_id

R = TypeVar("R", Account, Asset)
MATCHES_SHOWN = 5


class AmbiguousName(UsageError):
    """Several records have the name given; the REC ID tells which."""

    code = "Ambiguous"


class NameIndex(Generic[R]):
    """Records of one kind by REC ID and by folded name, read once (for a file of thousands of rows)."""

    def __init__(self, kind: str, records: Iterable[R], describe: Callable[[R], str]) -> None:
        self.kind = kind
        self.describe: Callable[[R], str] = describe
        self.by_id: dict[str, R] = {}
        self.by_name: dict[str, list[R]] = {}
        for record in records:
            self.by_id[record.rec_id] = record
            self.by_name.setdefault(fold_name(record.name), []).append(record)

    def find(self, ref: str) -> R:
        """The record ``ref`` names; :class:`NotFoundError` or :class:`AmbiguousName` otherwise."""
        ref = ref.strip()
        if is_rec_id(ref, self.kind):
            if ref in self.by_id:
                return self.by_id[ref]
            raise PsaNotFound(f"no {self.kind} with REC ID {ref!r}; 'zenithlink {self.kind}s list' shows them")
        matches = self.by_name.get(fold_name(ref), [])
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NotFoundError(f"no {self.kind} is named {ref!r} (the name must be exact; 'zenithlink links "
                                f"search {self.kind}s WORD' finds similar ones, or give the REC ID)")
        shown = "; ".join(self.describe(m) for m in matches[:MATCHES_SHOWN])
        more = f" and {len(matches) - MATCHES_SHOWN} more" if len(matches) > MATCHES_SHOWN else ""
        raise AmbiguousName(f"{len(matches)} {self.kind}s are named {ref!r}: {shown}{more}; give the REC ID "
                            "of the one you mean")


def fold_name(name: str) -> str:
    return " ".join(name.split()).casefold()


def account_index(psa: PsaStore) -> NameIndex[Account]:
    return NameIndex("account", psa.list_accounts(), lambda a: f"{a.rec_id} ({a.name})")


def asset_index(psa: PsaStore) -> NameIndex[Asset]:
    names = dict(psa.account_names())
    return NameIndex("asset", psa.list_assets(),
                     lambda a: f"{a.rec_id} ({a.name}, account {names.get(a.account_rec_id, a.account_rec_id)})")


def account(psa: PsaStore, ref: str) -> Account:
    """The account a REC ID or an exact name names (a REC ID is read alone, without listing every account)."""
    if is_rec_id(ref.strip(), "account"):
        return psa.get_account(ref.strip())
    return account_index(psa).find(ref)


def ticket_rec_id(psa: PsaStore, ref: str) -> str:
    """The REC ID of the ticket a ticket number (as RangerMSP shows it) or a REC ID names."""
    ref = ref.strip().lstrip("#")
    if ref.isdigit():
        return psa.ticket_by_number(int(ref)).rec_id
    return ref


def status_code(ref: str) -> int:
    """A ticket status by name (``Completed``) or code (``1000``)."""
    ref = ref.strip()
    if ref.isdigit():
        return int(ref)
    for code, name in STATUS_NAMES.items():
        if fold_name(name) == fold_name(ref):
            return code
    raise UsageError(f"no ticket status {ref!r}; use a code or one of {', '.join(STATUS_NAMES.values())}")


def asset(psa: PsaStore, ref: str) -> Asset:
    """The asset a REC ID or an exact name names."""
    if is_rec_id(ref.strip(), "asset"):
        return psa.get_asset(ref.strip())
    return asset_index(psa).find(ref)
