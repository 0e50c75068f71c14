"""Employees and privilege groups: the state store's, since RangerMSP's API does not expose privileges (R21)."""

from __future__ import annotations

import sqlite3
from typing import Any

from agent.backends.embedded.db import Database
from agent.errors import MissingUser, PrivilegeError, UnknownEmployee, UsageError
from agent.ports.recid import new_rec_id

BUILTIN_GROUPS = ("Full", "Partial", "Limited", "Sys Admin")
CONTINUUM_PRIVILEGE = "Continuum Integration"


class People:
    """Mixin of :class:`agent.backends.embedded.state.StateStore` for employees and privilege groups."""

    db: Database

    def add_group(self, name: str, *, continuum: bool = False) -> None:
        name = name.strip()
        if not name:
            raise UsageError("a privilege group needs a name")
        if self.db.query_one("SELECT 1 FROM privilege_groups WHERE name = ?", (name,)):
            raise UsageError(f"the privilege group {name!r} exists already")
        self.db.execute("INSERT INTO privilege_groups(name, continuum) VALUES (?, ?)", (name, int(continuum)))

    def list_groups(self) -> list[dict[str, Any]]:
        return [{"name": r["name"], "continuum": bool(r["continuum"]), "builtin": bool(r["builtin"])}
                for r in self.db.query("SELECT * FROM privilege_groups ORDER BY builtin DESC, name")]

    def add_employee(self, login: str, name: str = "", group: str = "Full") -> str:
        login = login.strip()
        if not login:
            raise UsageError("an employee needs a login")
        group_name = self._group_name(group)
        if self.db.query_one("SELECT 1 FROM employees WHERE login = ?", (login,)):
            raise UsageError(f"an employee with login {login!r} exists already")
        rec_id = new_rec_id("employee")
        self.db.execute("INSERT INTO employees(rec_id, login, name, group_name) VALUES (?, ?, ?, ?)",
                        (rec_id, login, name or login, group_name))
        return rec_id

    def get_employee(self, login: str) -> dict[str, Any]:
        row = self.db.query_one(_EMPLOYEES + " WHERE e.login = ?", (login,))
        if row is None:
            raise UnknownEmployee(login)
        return _employee(row)

    def list_employees(self) -> list[dict[str, Any]]:
        return [_employee(r) for r in self.db.query(_EMPLOYEES + " ORDER BY e.login")]

    def set_employee_group(self, login: str, group: str) -> str:
        """Move an employee to another privilege group; returns the group they were in."""
        employee = self.get_employee(login)
        name = self._group_name(group)
        self.db.execute("UPDATE employees SET group_name = ? WHERE login = ?", (name, employee["login"]))
        return str(employee["group"])

    def remove_employee(self, login: str) -> dict[str, Any]:
        """Remove an employee, their web console password and sessions; returns what they were."""
        employee = self.get_employee(login)
        with self.db.transaction() as conn:
            for table in ("web_sessions", "web_passwords", "employees"):
                conn.execute(f"DELETE FROM {table} WHERE login = ?", (employee["login"],))  # noqa: S608
        return employee

    def set_group_continuum(self, group: str, continuum: bool) -> bool:
        """Grant or revoke the Continuum Integration privilege of a group; returns whether it held it."""
        name = self._group_name(group)
        held = bool(self.db.scalar("SELECT continuum FROM privilege_groups WHERE name = ?", (name,)))
        self.db.execute("UPDATE privilege_groups SET continuum = ? WHERE name = ?", (int(continuum), name))
        return held

    def _group_name(self, group: str) -> str:
        row = self.db.query_one("SELECT name FROM privilege_groups WHERE name = ?", (group.strip(),))
        if row is None:
            names = ", ".join(g["name"] for g in self.list_groups())
            raise UsageError(f"no privilege group {group!r}; choose one of {names}, "
                             "or create it with 'zenithlink groups add'")
        return str(row["name"])

    def require_privilege(self, login: str | None, action: str) -> dict[str, Any]:
        """The employee, if their group holds the Continuum Integration privilege (R21)."""
        if not login:
            raise MissingUser(action)
        employee = self.get_employee(login)
        if not employee["continuum"]:
            raise PrivilegeError(
                f"{login} cannot {action}: the privilege group {employee['group']!r} does not hold the "
                f"{CONTINUUM_PRIVILEGE} privilege. Ask an administrator to move {login} to a group that "
                "holds it (Full, Sys Admin, or one made with 'zenithlink groups add NAME --continuum'). "
                "Viewing links needs no privilege.")
        return employee


_EMPLOYEES = "SELECT e.*, g.continuum FROM employees e JOIN privilege_groups g ON g.name = e.group_name"


def _employee(row: sqlite3.Row) -> dict[str, Any]:
    return {"rec_id": row["rec_id"], "login": row["login"], "name": row["name"],
            "group": row["group_name"], "continuum": bool(row["continuum"])}
