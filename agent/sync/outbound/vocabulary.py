"""The words outbound actions are made of, below the registry and the actions that use them.

An outbox row's ``action`` column names its action (stored: these values never change), and an
action's inputs are the children of its request drop (``TicketRecID``, ``AssignTo``, ``Note``,
``SiteCode``): the command line's options and the web console's forms fill the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.errors import UsageError

# The ``action`` column of the outbox table, one per action of the registry.
CREATE, ASSIGN, NOTE, CLOSE, CLEAR = "create", "assign", "note", "close", "clear"


@dataclass(frozen=True)
class Field:
    """One input of an action: the child element of its drop, and the values it may take."""

    name: str
    meaning: str
    choices: tuple[str, ...] = ()

    def choose(self, value: str | None, doing: str) -> str:
        """``value`` as one of :attr:`choices` is spelt (case is forgiven: a script writing "noc" means NOC)."""
        for option in self.choices:
            if (value or "").strip().lower() == option.lower():
                return option
        raise UsageError(f"cannot {doing} with assignee {value!r}; choose one of {', '.join(self.choices)}.")


TICKET_FIELD = Field("TicketRecID", "the PSA ticket (its REC ID)")
CREATE_ASSIGNEE = Field("AssignTo", "who works on it in the RMM", ("NOC", "VSD", "Partner"))
REASSIGN_ASSIGNEE = Field("AssignTo", "Keep (only the note is sent), VSD or Partner", ("Keep", "VSD", "Partner"))
NOTE_FIELD = Field("Note", "the note sent with it")
RESOLUTION_FIELD = Field("Note", "the resolution sent with the close")
SITE_FIELD = Field("SiteCode", "the site, when the ticket's account is linked to several")
