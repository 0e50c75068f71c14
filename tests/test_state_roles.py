"""The roles of the state store (agent/ports/state.py) that the engines are typed with: the embedded
StateStore plays each of them with the same parameters (type checking holds it to the types)."""

from __future__ import annotations

import inspect
from typing import Protocol

import pytest

from agent.backends.embedded import StateStore
from agent.ports import state as roles

ROLES = [value for value in vars(roles).values()
         if isinstance(value, type) and Protocol in value.__mro__[1:] and value.__module__ == roles.__name__]


def _members(role: type) -> list[str]:
    return [name for name in vars(role) if not name.startswith("_")]


def test_there_are_roles() -> None:
    assert {r.__name__ for r in ROLES} >= {"Transactions", "SyncValues", "FeedLedger", "TicketLinks", "SiteLinks",
                                          "Outbox", "RequestLog", "Employees", "AlertTickets", "AuditLog"}


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.__name__)
def test_the_state_store_plays_the_role(role: type) -> None:
    for name in _members(role):
        declared, played = inspect.getattr_static(role, name), inspect.getattr_static(StateStore, name)
        if isinstance(declared, property):
            assert isinstance(played, property), name
            continue
        assert list(inspect.signature(played).parameters) == list(inspect.signature(declared).parameters), name
