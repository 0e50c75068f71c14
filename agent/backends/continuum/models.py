"""The Continuum client's models: the RMM port's neutral records.

``Site`` and ``Device`` keep every child element of the answer in ``children`` (in order, values
unchanged) so the inventory writer can copy them verbatim; the typed attributes are stripped
conveniences. Missing optional elements are ``""``. The classes live in :mod:`agent.ports.rmm`
so that engines and hooks need nothing of this package.
"""

from agent.ports.rmm import Change, ChangePage, Device, NewTicket, Note, Page, Pong, Site, Ticket

Children = tuple[tuple[str, str], ...]

__all__ = ["Change", "ChangePage", "Children", "Device", "NewTicket", "Note", "Page", "Pong", "Site", "Ticket"]
