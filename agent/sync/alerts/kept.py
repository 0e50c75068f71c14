"""What the state store keeps of the last reconciliation of an alert RMM: its counts per kind of
finding and when it ran, the status fields ``zenithlink status`` and the web console show."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from agent.ports.state import SyncValues
from agent.ports.times import now_iso

KINDS = ("unticketed", "recovery-not-seen", "ticket-gone", "site-unlinked", "account-changed")
"""The kinds of finding (agent/sync/alerts/reconcile.py says what each one is)."""

LAST_RUN_STATE = "reconcile_last_run"
FIXED_STATE = "reconcile_fixed"


class Found(Protocol):
    kind: str
    fixed: bool


def count_state(kind: str) -> str:
    """The store key (and status field) of the number of findings of ``kind`` of the last pass."""
    return "reconcile_" + kind.replace("-", "_")


STATE_FIELDS: tuple[str, ...] = (LAST_RUN_STATE, *(count_state(kind) for kind in KINDS), FIXED_STATE)
"""The status fields of the last pass, each a sync-state key of the store under the same name."""


def keep(state: SyncValues, findings: Sequence[Found]) -> None:
    """A pass's counts per kind, how many it fixed and its time, in the store."""
    counts = Counter(f.kind for f in findings)
    values = {count_state(kind): str(counts.get(kind, 0)) for kind in KINDS}
    values[FIXED_STATE] = str(sum(f.fixed for f in findings))
    values[LAST_RUN_STATE] = now_iso()
    state.set_states(values)


def summary(figures: dict[str, Any]) -> str | None:
    """The last pass's findings in one line, from the status fields; ``None`` before the first pass."""
    if not figures.get(LAST_RUN_STATE):
        return None
    found = [f"{figures.get(count_state(kind))} {kind}" for kind in KINDS if figures.get(count_state(kind))]
    fixed = figures.get(FIXED_STATE) or 0
    return (", ".join(found) if found else "nothing found") + (f" ({fixed} fixed)" if fixed else "")
