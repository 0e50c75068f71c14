"""The embedded backend: the agent's state store (always) and the embedded PSA in the same SQLite file.

Its vocabulary is RangerMSP's (REC IDs, accounts, assets, tickets, history notes, status
codes); the PSA half is one implementation of :class:`agent.ports.psa.PsaStore`.
"""

from __future__ import annotations

from typing import Any

from agent.backends.embedded.psa import EmbeddedPsa
from agent.backends.embedded.state import StateStore
from agent.ports.state import OutboxItem

__all__ = ["EmbeddedPsa", "OutboxItem", "StateStore", "backend"]


def backend(settings: Any, state: StateStore) -> EmbeddedPsa:
    """The ``embedded`` PSA backend: its tables live in the state store's file (one transaction, D1)."""
    return EmbeddedPsa(state.db)
