"""Links between Continuum and the PSA: site → account, device → asset, ticket → ticket."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from agent.backends.embedded.db import Database
from agent.backends.embedded.psa import SITE_ACCOUNT_MEMO
from agent.errors import AlreadyLinked
from agent.ports.times import now_iso

DEVICE_ASSET_MEMO = "device_asset"  # a per-transaction memo (Database.cached)


class LinkTables:
    """Mixin of :class:`agent.backends.embedded.state.StateStore` for the three link tables."""

    db: Database

    # -- sites -----------------------------------------------------------------------------
    def link_site(self, site_code: str, account_rec_id: str, *, by: str = "") -> str | None:
        """Link a site to an account (many sites may share one); returns the previous account.
        The account is not checked here: the PSA is not the state store's (see :mod:`agent.sync.records`)."""
        with self.db.transaction() as conn:
            previous = self.account_for_site(site_code)
            conn.execute("INSERT INTO site_links(site_code, account_rec_id, linked_at, linked_by) VALUES (?,?,?,?)"
                         " ON CONFLICT(site_code) DO UPDATE SET account_rec_id = excluded.account_rec_id,"
                         " linked_at = excluded.linked_at, linked_by = excluded.linked_by",
                         (site_code, account_rec_id, now_iso(), by))
            self.db.forget(SITE_ACCOUNT_MEMO)
        return previous

    def unlink_site(self, site_code: str) -> str | None:
        """Remove one site link; returns the account it pointed to, or ``None``."""
        with self.db.transaction() as conn:
            previous = self.account_for_site(site_code)
            conn.execute("DELETE FROM site_links WHERE site_code = ?", (site_code,))
            self.db.forget(SITE_ACCOUNT_MEMO)
        return previous

    def account_for_site(self, site_code: str) -> str | None:
        # Asked for every incoming ticket: remembered for the rest of the transaction; every
        # method here that changes site links forgets it.
        return self.db.cached(SITE_ACCOUNT_MEMO, site_code, lambda: self.db.scalar(
            "SELECT account_rec_id FROM site_links WHERE site_code = ?", (site_code,)))

    def sites_for_account(self, account_rec_id: str) -> list[str]:
        return [r[0] for r in self.db.query(
            "SELECT site_code FROM site_links WHERE account_rec_id = ? ORDER BY site_code", (account_rec_id,))]

    def site_links(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.db.query("SELECT site_code, account_rec_id FROM site_links")}

    # -- devices ---------------------------------------------------------------------------
    def link_device(self, device_id: str, asset_rec_id: str, *, by: str = "") -> str | None:
        """Link a device to an asset (one to one); returns the previous asset (the asset is not checked here)."""
        other = self.device_for_asset(asset_rec_id)
        if other and other != device_id:
            raise AlreadyLinked(f"asset {asset_rec_id}", f"device {other}",
                                f"unlink it first ('zenithlink links unlink-device {other}')")
        with self.db.transaction() as conn:
            previous = self.asset_for_device(device_id)
            conn.execute("INSERT INTO device_links(device_id, asset_rec_id, linked_at, linked_by) VALUES (?,?,?,?)"
                         " ON CONFLICT(device_id) DO UPDATE SET asset_rec_id = excluded.asset_rec_id,"
                         " linked_at = excluded.linked_at, linked_by = excluded.linked_by",
                         (device_id, asset_rec_id, now_iso(), by))
            self.db.forget(DEVICE_ASSET_MEMO)
        return previous

    def unlink_device(self, device_id: str) -> str | None:
        with self.db.transaction() as conn:
            previous = self.asset_for_device(device_id)
            conn.execute("DELETE FROM device_links WHERE device_id = ?", (device_id,))
            self.db.forget(DEVICE_ASSET_MEMO)
        return previous

    def asset_for_device(self, device_id: str) -> str | None:
        # Asked for every incoming ticket of a device: remembered for the rest of the
        # transaction; every method here that changes device links forgets it.
        return self.db.cached(DEVICE_ASSET_MEMO, device_id, lambda: self.db.scalar(
            "SELECT asset_rec_id FROM device_links WHERE device_id = ?", (device_id,)))

    def read_links_of(self, site_codes: Iterable[str], device_ids: Iterable[str]) -> None:
        """Read the links of these sites and devices in two queries, for the rest of the transaction:
        :meth:`account_for_site` and :meth:`asset_for_device` then answer them without a query
        (a feed page asks for each of its tickets)."""
        sites, devices = json.dumps(list(set(site_codes))), json.dumps(list(set(device_ids)))
        self.db.remember(SITE_ACCOUNT_MEMO, {r[0]: r[1] for r in self.db.query(
            "SELECT j.value, l.account_rec_id FROM json_each(?) j LEFT JOIN site_links l ON l.site_code = j.value",
            (sites,))})
        self.db.remember(DEVICE_ASSET_MEMO, {r[0]: r[1] for r in self.db.query(
            "SELECT j.value, l.asset_rec_id FROM json_each(?) j LEFT JOIN device_links l ON l.device_id = j.value",
            (devices,))})

    def device_for_asset(self, asset_rec_id: str) -> str | None:
        return self.db.scalar("SELECT device_id FROM device_links WHERE asset_rec_id = ?", (asset_rec_id,))

    def device_links(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.db.query("SELECT device_id, asset_rec_id FROM device_links")}

    # -- tickets ---------------------------------------------------------------------------
    def link_ticket(self, continuum_ticket_id: str, ticket_rec_id: str, *, acked: bool = False,
                    seen: str | None = None) -> None:
        """Link a Continuum ticket to its PSA ticket; ``seen`` is its last seen fields (see :meth:`set_seen_many`)."""
        self.db.insert("INSERT INTO ticket_links(continuum_ticket_id, ticket_rec_id, linked_at, acked, seen)"
                       " VALUES (?,?,?,?,?)", (continuum_ticket_id, ticket_rec_id, now_iso(), int(acked), seen))

    def ticket_for_continuum(self, continuum_ticket_id: str) -> str | None:
        return self.db.scalar("SELECT ticket_rec_id FROM ticket_links WHERE continuum_ticket_id = ?",
                              (continuum_ticket_id,))

    def tickets_for_continuum(self, continuum_ticket_ids: Iterable[str]) -> dict[str, str]:
        """``{Continuum ticket id: PSA REC ID}`` for those of the ids that are linked, in one query."""
        ids = list(continuum_ticket_ids)
        if not ids:
            return {}
        return {r[0]: r[1] for r in self.db.query(
            "SELECT l.continuum_ticket_id, l.ticket_rec_id FROM json_each(?) j"
            " JOIN ticket_links l ON l.continuum_ticket_id = j.value", (json.dumps(ids),))}

    def ticket_links_among(self, continuum_ticket_ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        """``{Continuum ticket id: (PSA REC ID, last seen fields)}`` for those of the ids that are linked."""
        ids = list(continuum_ticket_ids)
        if not ids:
            return {}
        return {r[0]: (r[1], r[2]) for r in self.db.query(
            "SELECT l.continuum_ticket_id, l.ticket_rec_id, l.seen FROM json_each(?) j"
            " JOIN ticket_links l ON l.continuum_ticket_id = j.value", (json.dumps(ids),))}

    def set_seen_many(self, seen: Iterable[tuple[str, str]]) -> None:
        """Record ``(Continuum ticket id, last seen fields)`` pairs on their links, in one statement.

        The fields are opaque text to the store; the inbound sync keeps them to say what an
        update changed.
        """
        with self.db.transaction() as conn:
            conn.executemany("UPDATE ticket_links SET seen = ? WHERE continuum_ticket_id = ?",
                             [(fields, tid) for tid, fields in seen])

    def continuum_for_tickets(self, ticket_rec_ids: Iterable[str]) -> dict[str, str]:
        """``{PSA REC ID: Continuum ticket id}`` for those of the tickets that are linked, in one query."""
        ids = list(ticket_rec_ids)
        if not ids:
            return {}
        return {r[0]: r[1] for r in self.db.query(
            "SELECT l.ticket_rec_id, l.continuum_ticket_id FROM json_each(?) j"
            " JOIN ticket_links l ON l.ticket_rec_id = j.value", (json.dumps(ids),))}

    def continuum_for_ticket(self, ticket_rec_id: str) -> str | None:
        return self.db.scalar("SELECT continuum_ticket_id FROM ticket_links WHERE ticket_rec_id = ?",
                              (ticket_rec_id,))

    def unacked_ticket_links(self) -> list[tuple[str, str]]:
        """(Continuum ticket id, PSA REC ID) pairs not yet reported to Continuum in an ack."""
        return [(r[0], r[1]) for r in self.db.query(
            "SELECT continuum_ticket_id, ticket_rec_id FROM ticket_links WHERE acked = 0")]

    def mark_links_acked(self, continuum_ticket_ids: list[str]) -> None:
        # One statement for a round's links (thousands): half the time of a row-by-row executemany.
        with self.db.transaction() as conn:
            conn.execute("UPDATE ticket_links SET acked = 1 WHERE acked = 0"
                         " AND continuum_ticket_id IN (SELECT value FROM json_each(?))",
                         (json.dumps(continuum_ticket_ids),))

    # -- cascades --------------------------------------------------------------------------
    def unlink_account(self, account_rec_id: str, *, tickets: Iterable[str] = (),
                       assets: Iterable[str] = ()) -> dict[str, Any]:
        """Remove every Continuum link of an account: its sites', and those of the PSA tickets and
        assets given (the account's, read from the PSA by the caller) (R19)."""
        with self.db.transaction() as conn:
            sites = self.sites_for_account(account_rec_id)
            conn.execute("DELETE FROM site_links WHERE account_rec_id = ?", (account_rec_id,))
            self.db.forget(SITE_ACCOUNT_MEMO)
            ticket_links = conn.executemany("DELETE FROM ticket_links WHERE ticket_rec_id = ?",
                                            [(t,) for t in tickets]).rowcount
            device_links = conn.executemany("DELETE FROM device_links WHERE asset_rec_id = ?",
                                            [(a,) for a in assets]).rowcount
            self.db.forget(DEVICE_ASSET_MEMO)
        return {"sites": sites, "ticket_links": max(ticket_links, 0), "device_links": max(device_links, 0)}

    def move_site_links(self, source: str, into: str) -> int:
        """Point every site of account ``source`` at ``into`` (a merge, R20); returns how many."""
        with self.db.transaction() as conn:
            moved = conn.execute("UPDATE site_links SET account_rec_id = ? WHERE account_rec_id = ?",
                                 (into, source)).rowcount
            self.db.forget(SITE_ACCOUNT_MEMO)
        return moved
