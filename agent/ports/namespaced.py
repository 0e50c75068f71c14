"""An extra RMM's identifiers kept apart from the primary RMM's in the one shared store.

Several RMMs may run in one agent (``[RMM:<name>]`` sections). The state store and the PSA are
shared, and their links, alert tickets, outbox rows and processed change ids are keyed by the
RMM's own identifiers (site code, device id, ticket, alert and change id), which two RMMs may
well both use (N-sight's site ``1``). :class:`NamespacedRmm` wraps an extra instance's client:
every identifier it hands over reads ``<InstanceID>:<id>``, and every identifier handed to it
loses that prefix again, so nothing above it can mix the RMMs up and nothing needs a new column.
An InstanceID has no ``:`` (it is a file-name suffix), so the prefix is always unambiguous; the
primary RMM's identifiers are never prefixed (its links, files and tickets stay as they were).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from agent.errors import UsageError
from agent.ports.rmm import (
    Alert,
    AlertSnapshot,
    Change,
    ChangePage,
    Device,
    Fields,
    InventoryPage,
    InventoryRecord,
    Kind,
    NewTicket,
    Note,
    Page,
    Pong,
    RmmCapabilities,
    RmmRejected,
    Site,
    Ticket,
    capabilities_of,
)

SEPARATOR = ":"
#: The fields of an inventory record that hold identifiers the agent links on.
_ID_FIELDS = frozenset({"SiteCode", "DeviceID"})


def namespace_of(identifier: str) -> str:
    """The InstanceID an identifier belongs to; ``""`` for the primary RMM's."""
    head, sep, _ = identifier.partition(SEPARATOR)
    return head if sep else ""


@dataclass(frozen=True)
class _Record:
    """An inventory record with its identifier fields in the namespace."""

    children: Fields

    def fields(self) -> Fields:
        return self.children


class NamespacedRmm:
    """The client of an extra RMM instance, its identifiers prefixed with ``<InstanceID>:``."""

    def __init__(self, client: Any, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self._prefix = namespace + SEPARATOR
        declared = capabilities_of(client)
        self.capabilities = RmmCapabilities(rmm=f"{declared.rmm} ({namespace})", delivery=declared.delivery,
                                            write_backs=declared.write_backs)

    # -- identifiers -------------------------------------------------------------------------
    def outward(self, identifier: str) -> str:
        """An identifier of this RMM as the agent keeps it."""
        return self._prefix + identifier if identifier else identifier

    def inward(self, identifier: str) -> str:
        """An identifier the agent keeps, as this RMM knows it; another RMM's is refused for good."""
        if not identifier.startswith(self._prefix):
            raise RmmRejected(f"{identifier!r} is not an identifier of the RMM {self.namespace}: it belongs to "
                              f"{namespace_of(identifier) or 'the primary RMM'}")
        return identifier[len(self._prefix):]

    def _optional_inward(self, identifier: str | None) -> str | None:
        return self.inward(identifier) if identifier else identifier

    # -- inventory ---------------------------------------------------------------------------
    def ping(self) -> Pong:
        pong: Pong = self.client.ping()
        return pong

    def site_pages(self, page_size: int = 500) -> Iterator[Page[Site]]:
        for page in self.client.site_pages(page_size):
            yield replace(page, items=tuple(self._site(s) for s in page.items))

    def device_pages(self, page_size: int = 500, site_code: str | None = None) -> Iterator[Page[Device]]:
        for page in self.client.device_pages(page_size, self._optional_inward(site_code)):
            yield replace(page, items=tuple(self._device(d) for d in page.items))

    def inventory_pages(self, kind: Kind, page_size: int = 500) -> Iterator[InventoryPage[InventoryRecord]]:
        if kind not in ("sites", "devices"):
            raise UsageError(f"no inventory kind {kind!r}: use 'sites' or 'devices'")
        for page in self.client.inventory_pages(kind, page_size):
            items = tuple(_Record(self._fields(item.fields())) for item in page.items)
            yield Page(page=page.page, page_size=page.page_size, total=page.total, items=items)

    def _fields(self, fields: Iterable[tuple[str, str]]) -> Fields:
        return tuple((tag, self.outward(text.strip()) if tag in _ID_FIELDS else text) for tag, text in fields)

    def _site(self, site: Site) -> Site:
        return replace(site, site_code=self.outward(site.site_code), children=self._fields(site.children))

    def _device(self, device: Device) -> Device:
        return replace(device, device_id=self.outward(device.device_id), site_code=self.outward(device.site_code),
                       children=self._fields(device.children))

    # -- the change feed and tickets -------------------------------------------------------------
    def changes(self, after: str | None, limit: int = 100) -> ChangePage:
        return self._page(self.client.changes(after, limit))

    def read_changes(self, after: str | None, limit: int = 100) -> Callable[[], ChangePage]:
        later = self.client.read_changes(after, limit)
        return lambda: self._page(later())

    def _page(self, page: ChangePage) -> ChangePage:
        return replace(page, changes=tuple(self._change(c) for c in page.changes))

    def _change(self, change: Change) -> Change:
        note = replace(change.note, note_id=self.outward(change.note.note_id)) if change.note else None
        return replace(change, id=self.outward(change.id), ticket=self._ticket(change.ticket), note=note)

    def _ticket(self, ticket: Ticket) -> Ticket:
        return replace(ticket, ticket_id=self.outward(ticket.ticket_id), site_code=self.outward(ticket.site_code),
                       device_id=self.outward(ticket.device_id))

    def ack(self, cursor: str, links: Iterable[tuple[str, str]] = (), idempotency_key: str | None = None) -> str:
        acked: str = self.client.ack(cursor, [(self.inward(t), p) for t, p in links], idempotency_key=idempotency_key)
        return acked

    def get_ticket(self, ticket_id: str) -> Ticket:
        return self._ticket(self.client.get_ticket(self.inward(ticket_id)))

    def create_ticket(self, new: NewTicket, *, idempotency_key: str) -> Ticket:
        sent = replace(new, site_code=self.inward(new.site_code), device_id=self._optional_inward(new.device_id))
        return self._ticket(self.client.create_ticket(sent, idempotency_key=idempotency_key))

    def assign(self, ticket_id: str, assign_to: str, note: str | None = None, *, idempotency_key: str) -> Ticket:
        return self._ticket(self.client.assign(self.inward(ticket_id), assign_to, note,
                                               idempotency_key=idempotency_key))

    def add_note(self, ticket_id: str, text: str, author: str, *, idempotency_key: str) -> Note:
        note: Note = self.client.add_note(self.inward(ticket_id), text, author, idempotency_key=idempotency_key)
        return replace(note, note_id=self.outward(note.note_id))

    def close_ticket(self, ticket_id: str, resolution: str | None = None, *, idempotency_key: str) -> Ticket:
        closed = self.client.close_ticket(self.inward(ticket_id), resolution, idempotency_key=idempotency_key)
        return self._ticket(closed)

    # -- snapshot RMMs -------------------------------------------------------------------------
    def failing(self) -> AlertSnapshot:
        snapshot: AlertSnapshot = self.client.failing()
        return replace(snapshot, alerts=tuple(self._alert(a) for a in snapshot.alerts))

    def _alert(self, alert: Alert) -> Alert:
        return replace(alert, alert_id=self.outward(alert.alert_id), device_id=self.outward(alert.device_id),
                       site_code=self.outward(alert.site_code))

    def add_alert_note(self, alert_id: str, text: str, *, idempotency_key: str) -> None:
        self.client.add_alert_note(self.inward(alert_id), text, idempotency_key=idempotency_key)

    def clear_alert(self, alert_id: str, note: str, *, idempotency_key: str) -> None:
        self.client.clear_alert(self.inward(alert_id), note, idempotency_key=idempotency_key)

    def close_connection(self) -> None:
        self.client.close_connection()

