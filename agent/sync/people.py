"""Changing who may act: employees' privilege groups, removing employees, and granting or revoking
a group's Continuum Integration privilege (R21).

Each change needs an employee who holds the privilege, is audited in the same transaction, and
is refused when it would leave no employee holding the privilege: nobody could give it back.
"""

from __future__ import annotations

from typing import Any, Protocol

from agent.errors import PreconditionError
from agent.ports.psa import PsaStore
from agent.ports.state import AuditLog, Employees, Transactions
from agent.sync import records


class PeopleState(Transactions, Employees, AuditLog, Protocol):
    """The state store as the changes of who may act use it."""



def set_group(state: PeopleState, psa: PsaStore, login: str, group: str, user: str | None) -> str:
    """Move employee ``login`` to ``group``; returns the group they were in."""
    state.require_privilege(user, "change employees' privilege groups")
    employee = state.get_employee(login)
    with records.unit_of_work(state, psa):
        previous = state.set_employee_group(employee["login"], group)
        _keep_someone_privileged(state, f"moving {employee['login']} to group {group!r}")
        state.audit(user or "", "set_group", f"employee {employee['login']}: group {previous!r} -> {group!r}")
    return previous


def remove_employee(state: PeopleState, psa: PsaStore, login: str, user: str | None) -> dict[str, Any]:
    """Remove employee ``login`` (and their web console password and sessions)."""
    state.require_privilege(user, "remove employees")
    employee = state.get_employee(login)
    with records.unit_of_work(state, psa):
        state.remove_employee(employee["login"])
        _keep_someone_privileged(state, f"removing {employee['login']}")
        state.audit(user or "", "remove_employee", f"employee {employee['login']} ({employee['name']}) of group "
                    f"{employee['group']!r}")
    return dict(employee)


def set_continuum(state: PeopleState, psa: PsaStore, group: str, granted: bool, user: str | None) -> bool:
    """Grant (``granted``) or revoke the Continuum Integration privilege of ``group``; returns
    whether the group held it before."""
    state.require_privilege(user, "grant or revoke the Continuum Integration privilege")
    with records.unit_of_work(state, psa):
        held = state.set_group_continuum(group, granted)
        _keep_someone_privileged(state, f"revoking the privilege of group {group!r}")
        if held != granted:
            state.audit(user or "", "grant" if granted else "revoke", f"Continuum Integration privilege of group "
                        f"{group!r}")
    return held


def _keep_someone_privileged(state: Employees, change: str) -> None:
    if not any(e["continuum"] for e in state.list_employees()):
        raise PreconditionError(f"{change} would leave no employee with the Continuum Integration privilege, "
                                "and nobody could give it back; give it to someone else first")
