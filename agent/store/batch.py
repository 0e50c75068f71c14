"""New PSA tickets, history notes and ticket links held in memory and written a table at a time.

The inbound sync creates a ticket, its first history note and its Continuum link for nearly
every change of a feed page; one ``executemany`` per table at the end of the page costs a
fraction of three single-row statements per change. Holding the rows back is invisible to
anyone who reads or writes through the store: the store writes them first (see
:meth:`agent.store.db.Database.defer_writes`).
"""

from __future__ import annotations

from agent.store.psa import STATUS_NEW, NewHistory, NewTicket

HELD_TABLES = ("tickets", "history", "ticket_links")


class PsaBatch:
    """Made by :meth:`agent.store.Store.psa_batch` inside a transaction; lasts as long as it does.

    :meth:`add_ticket`, :meth:`add_history` and :meth:`link_ticket` take the arguments of the
    store's methods of the same names, check them at once and return what those return; the
    rows are written by :meth:`flush`, which the store calls before any of its statements on
    those tables, before any of its methods joins the transaction, and before the commit. A
    rollback drops them. Ticket numbers are given when the tickets are written, in order.
    """

    def __init__(self, store) -> None:
        self.store = store
        self._tickets: list[NewTicket] = []
        self._notes: list[NewHistory] = []
        self._links: list[tuple[str, str]] = []
        store.db.defer_writes(self._write, HELD_TABLES)

    def add_ticket(self, account_rec_id: str, description: str, *, asset_rec_id: str | None = None,
                   manager: str | None = None, in_inbox: bool = False, status_code: int = STATUS_NEW) -> str:
        row = self.store.new_ticket(account_rec_id, description, asset_rec_id=asset_rec_id, manager=manager,
                                    in_inbox=in_inbox, status_code=status_code)
        self._tickets.append(row)
        return row.rec_id

    def add_history(self, ticket_rec_id: str, text: str, *, at: str | None = None, author: str = "",
                    touch: bool = True) -> str:
        note = self.store.new_history(ticket_rec_id, text, at=at, author=author, touch=touch)
        self._notes.append(note)
        return note.rec_id

    def link_ticket(self, continuum_ticket_id: str, ticket_rec_id: str) -> None:
        self._links.append((continuum_ticket_id, ticket_rec_id))

    @property
    def held(self) -> int:
        """How many rows wait to be written."""
        return len(self._tickets) + len(self._notes) + len(self._links)

    def flush(self) -> None:
        """Write what is held now (the store would do it anyway before it needs the rows)."""
        self.store.db.flush_deferred()

    def _write(self) -> None:
        tickets, notes, links = self._tickets, self._notes, self._links
        self._tickets, self._notes, self._links = [], [], []
        # Tickets first: notes and links refer to them.
        self.store.add_tickets_many(tickets)
        self.store.add_history_many(notes)
        self.store.link_tickets_many(links)
