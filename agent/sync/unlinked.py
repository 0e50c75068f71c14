"""How many downloaded sites have no account yet: the warning given before the queue is switched on.

A ticket from an unlinked site lands in an auto-created account (R4), so every place where an
administrator turns ``ProcessContinuumUpdatesQueue`` on (``check-config``, a reload of the INI,
the start of the service) and ``status`` say how many sites are not linked, naming a few. Read
from the inventory file and the state store alone: no PSA call (``status`` must not load
RangerMSP's DLLs).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.ports.state import SiteLinks
from config.loader import Settings
from dbsys import inventory as inventory_index

SHOWN = 5


@dataclass(frozen=True)
class Unlinked:
    count: int
    sites: int
    examples: list[tuple[str, str]]  # (site code, name) of the first few

    def sentence(self, *, queue_on: bool) -> str:
        named = ", ".join(f"{code} ({name})" if name else code for code, name in self.examples)
        more = f" and {self.count - len(self.examples)} more" if self.count > len(self.examples) else ""
        head = f"{self.count} of {self.sites} Continuum sites are not linked to an account: {named}{more}."
        if queue_on:
            return (f"{head} With ProcessContinuumUpdatesQueue=Y their tickets land in auto-created accounts; link "
                    "them first ('zenithlink links review --apply', then the rest by hand or in the web console).")
        return f"{head} Link them before setting ProcessContinuumUpdatesQueue=Y ('zenithlink links review')."


def unlinked_sites(settings: Settings, state: SiteLinks) -> Unlinked | None:
    """The unlinked sites of the downloaded inventory; ``None`` when there is no inventory yet."""
    if not inventory_index.inventory_path(settings, "sites").is_file():
        return None
    try:
        sites = inventory_index.searchable(settings, "sites")
        lookup = inventory_index.record_lookup(settings, "sites")
    except (OSError, ValueError):
        return None
    linked = state.site_links()
    missing = [code for code, _ in sites if code not in linked]
    examples = [(code, (lookup(code) or {}).get("Name", "")) for code in missing[:SHOWN]]
    return Unlinked(len(missing), len(sites), examples)
