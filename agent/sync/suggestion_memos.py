"""What the links manager keeps between its instances (one per page, command or review) while the
PSA's accounts do not change: the suggestion pool, the matcher's answers for it, the folded names.
One per ``App`` (``app.suggestion_memos``); each memo is replaced by one assignment, so a reader in
another thread sees the old one or the new one, never half of each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.hookspecs import AccountPool, Suggestion

Names = list[tuple[str, str]]
"""``(rec_id, name)`` of every account: what tells whether a memo still holds."""


@dataclass
class SuggestionMemos:
    #: The accounts' names and the pool made of them.
    accounts: tuple[Names, AccountPool] | None = None
    #: The pool (compared by identity) and the matcher's answers for it, by site details and limit.
    answers: tuple[object, dict[tuple[Any, ...], list[Suggestion]]] | None = None
    #: The accounts' names and ``(rec_id, name, folded name)`` made of them.
    folded_names: tuple[Names, list[tuple[str, str, str]]] | None = None
