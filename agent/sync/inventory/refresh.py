"""Sites and devices from the RMM into the ``.cmt`` inventory files.

Every page is streamed from the RMM port straight into :func:`dbsys.cmt.write_inventory`, so
memory does not grow with the number of devices (only a compact ``{id: name}`` map of the
previous file is held, to report what changed). The items travel as the port's inventory
records (:meth:`agent.ports.rmm.RmmClient.inventory_pages`, already checked for their required
fields), which a backend may keep in the form it parsed them in (the Continuum client keeps
the XML elements, written unchanged: turning 100,000 devices into Python values and back cost
more than the download). Only the id and name of each item are read, a page at a time, and
only when there is a previous file to compare with.

Both files or neither: the sites and the devices are each written to a staging file in the
Dbsys folder (a name :func:`dbsys.atomic.sweep_temp_files` removes after a crash), and only
when both downloads succeeded are they published (:mod:`agent.sync.inventory.publish`). A
failure part-way (network, 5xx after retries, bad XML, full disk) leaves both previous files
byte-identical, so the PSA side never sees new sites beside devices of another refresh. A
publish stopped between the two files (a file another program holds open on Windows, a crash)
is finished by the next refresh, at start-up or by the service's housekeeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from loguru import logger

from agent import events
from agent.errors import ZenithError, describe
from agent.ports.rmm import InventoryPage, InventoryRecord, Kind, RmmCredentialsRefused, RmmNotActivated
from agent.reporting import report_failure
from agent.sync.activation import Activation
from agent.sync.bookkeeping import notify_quietly, record_values
from agent.sync.inventory.publish import KINDS, complete, publish
from agent.sync.outage import OutageTracker
from config.loader import Settings
from dbsys import cmt
from dbsys.atomic import remove_quietly, temp_name
from dbsys.fsops import FileInUse
from dbsys.inventory import KEYS as KEY_TAG
from dbsys.inventory import inventory_path
from dbsys.timestamps import utc

if TYPE_CHECKING:
    from agent.sync.engine_app import EngineApp

T = TypeVar("T")

PAGE_SIZE = 1000
MAX_LISTED = 50

Progress = Callable[[str, int, int, int], None]
"""``progress(kind, pages_done, items_done, total)`` after each page; ``total`` is -1 when unknown."""


@dataclass
class KindChanges:
    """What changed in one file since the previous one (lists are capped at ``MAX_LISTED``)."""

    first: bool = False
    added: int = 0
    removed: int = 0
    renamed: int = 0
    added_ids: list[str] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)
    renamed_ids: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.renamed)

    def summary(self) -> str:
        if self.first:
            return f"{self.added} new (first download)"
        return f"+{self.added} -{self.removed} ~{self.renamed}"

    def as_dict(self) -> dict[str, Any]:
        return {"first": self.first, "added": self.added, "removed": self.removed, "renamed": self.renamed,
                "added_ids": list(self.added_ids), "removed_ids": list(self.removed_ids),
                "renamed_ids": [list(r) for r in self.renamed_ids]}


@dataclass
class InventoryChanges:
    sites: KindChanges = field(default_factory=KindChanges)
    devices: KindChanges = field(default_factory=KindChanges)

    @property
    def any(self) -> bool:
        return self.sites.any or self.devices.any

    def summary(self) -> str:
        """One short line, e.g. ``sites +1 -0 ~2; devices +5 -3 ~0``."""
        return f"sites {self.sites.summary()}; devices {self.devices.summary()}"

    def lines(self) -> Iterator[str]:
        """One line per listed change, for the log."""
        for kind, changes in (("site", self.sites), ("device", self.devices)):
            if changes.first:
                continue
            for key in changes.added_ids:
                yield f"{kind} added: {key}"
            for key in changes.removed_ids:
                yield f"{kind} removed: {key}"
            for key, old, new in changes.renamed_ids:
                yield f"{kind} renamed: {key} {old!r} -> {new!r}"

    def as_dict(self) -> dict[str, Any]:
        return {"sites": self.sites.as_dict(), "devices": self.devices.as_dict()}


@dataclass(frozen=True)
class InventoryResult:
    sites: int
    devices: int
    pages: int
    seconds: float
    changes: InventoryChanges
    generated: datetime

    def summary(self) -> str:
        return (f"{self.sites} sites and {self.devices} devices in {self.seconds:.1f} s "
                f"({self.pages} pages); changes: {self.changes.summary()}")

    def as_dict(self) -> dict[str, Any]:
        return {"sites": self.sites, "devices": self.devices, "pages": self.pages,
                "seconds": round(self.seconds, 3), "generated": self.generated.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "changes": self.changes.as_dict()}


# -- refresh ---------------------------------------------------------------------------------
def inventory_paths(settings: Settings) -> dict[str, Path]:
    """The final paths of the two files, by kind."""
    return {kind: inventory_path(settings, kind) for kind in KINDS}


def refresh(app: EngineApp, progress: Progress | None = None, *, page_size: int = PAGE_SIZE) -> InventoryResult:
    """Download every site and device and replace both inventory files; raises on failure.

    On any exception the previous files are left exactly as they were.
    """
    client = app.rmm
    finals = inventory_paths(app.settings)
    folder = finals["sites"].parent
    folder.mkdir(parents=True, exist_ok=True)
    # One refresh at a time per agent (the inventory worker, a reload, a command in the service's
    # process); other processes are kept apart by the publish's lock file.
    with app.inventory_refresh_lock:
        complete(finals)  # a pair left mixed by an earlier publish is not compared against
        start = time.monotonic()
        generated = utc()
        staged: dict[str, Path] = {}
        counts: dict[str, int] = {}
        changes: dict[str, KindChanges] = {}
        pages = [0]
        try:
            for kind in KINDS:
                staged[kind] = folder / temp_name(finals[kind].name)
                differ = _Differ(_previous_names(finals[kind], kind))
                items = _stream(client.inventory_pages(kind, page_size), kind, differ, pages, progress)
                counts[kind] = cmt.write_inventory(staged[kind], kind, items, generated)
                changes[kind] = differ.finish()
            publish(staged, finals)
        except BaseException:
            for path in staged.values():
                remove_quietly(path)
            raise
    return InventoryResult(counts["sites"], counts["devices"], pages[0], time.monotonic() - start,
                           InventoryChanges(changes["sites"], changes["devices"]), generated)


def finish_publish(settings: Settings) -> bool:
    """Finish a publish of the inventory files left half-done (see :mod:`agent.sync.inventory.publish`);
    True when one was finished. A file still held is logged, not raised: the next try comes."""
    try:
        return complete(inventory_paths(settings))
    except (OSError, ZenithError) as exc:
        logger.warning("The inventory files are not both in place yet: {}", describe(exc))
        return False


def sweep_if_idle(settings: Settings) -> int:
    """Remove temporary files left by a crash, unless a running agent owns the Dbsys folder.

    A running agent swept at its own start and may be writing right now, so its folder is left
    alone. Returns how many files were removed.
    """
    from agent.errors import AlreadyRunning
    from agent.runtime.lock import FolderLock
    from dbsys.atomic import sweep_temp_files

    lock = FolderLock(settings.dbsys_folder)
    try:
        lock.acquire()
    except AlreadyRunning:
        return 0
    try:
        return sweep_temp_files(settings.dbsys_folder)
    finally:
        lock.release()


def _stream(pages: Iterable[InventoryPage[InventoryRecord]], kind: Kind, differ: _Differ, page_counter: list[int],
            progress: Progress | None) -> Iterator[InventoryRecord]:
    """The items of every page, as parsed, for the writer; each page is shown to ``differ`` first."""
    key_tag, done = KEY_TAG[kind], 0
    for number, page in enumerate(pages, 1):
        differ.see_page(page, key_tag)
        yield from page.items
        done += len(page.items)
        page_counter[0] += 1
        if progress is not None:
            progress(kind, number, done, page.total)


# -- changes since the previous files -------------------------------------------------------
def _previous_names(path: Path, kind: Kind) -> dict[str, str] | None:
    """``{id: name}`` of the current file; ``None`` when there is none (or it cannot be read)."""
    try:
        names: dict[str, str] = {}
        for key, name in cmt.read_fields(path, kind, KEY_TAG[kind], "Name"):
            names[key] = name
        return names
    except cmt.MissingInventory:
        return None
    except Exception as exc:  # noqa: BLE001 - a damaged old file only costs the change report
        logger.warning("The previous inventory file {} cannot be read ({}); it is replaced, "
                       "and this refresh reports no changes against it", path.name, exc)
        return None




class _Differ:
    """Compares the stream of new items with the previous ``{id: name}`` map, item by item."""

    def __init__(self, previous: dict[str, str] | None) -> None:
        self._old = previous
        self.changes = KindChanges(first=previous is None)

    def see_page(self, page: InventoryPage[InventoryRecord], key_tag: str) -> None:
        """Every item of one page; ids and names are only read when there is something to compare."""
        if self._old is None:
            self.changes.added += len(page.items)
            return
        for key, name in zip(page.texts(key_tag), page.texts("Name")):
            self.see(key, name)

    def see(self, key: str, name: str) -> None:
        """One item, when there is a previous map (see_page counts the first download alone)."""
        c = self.changes
        old = self._old.pop(key, None)  # type: ignore[union-attr]
        if old is None:
            c.added += 1
            _append(c.added_ids, key)
        elif old != name:
            c.renamed += 1
            _append(c.renamed_ids, (key, old, name))

    def finish(self) -> KindChanges:
        if self._old:
            self.changes.removed = len(self._old)
            self.changes.removed_ids = list(self._old)[:MAX_LISTED]
        self._old = None
        return self.changes


def _append(bucket: list[T], value: T) -> None:
    if len(bucket) < MAX_LISTED:
        bucket.append(value)


# -- the service job ------------------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class InventoryJob:
    """One inventory refresh for the service; never raises for expected failures."""

    def __init__(self, app: EngineApp, *, now: Callable[[], datetime] = _utcnow,
                 outage: OutageTracker | None = None) -> None:
        self.app = app
        self._now = now
        self.outage = outage or app.outage
        #: The sentence of what failed in the last :meth:`run_once`, or ``None`` (done, or waiting
        #: for Continuum's activation, which is not a failure of the agent).
        self.last_failure: str | None = None

    def run_once(self) -> InventoryResult | None:
        self.last_failure = None
        try:
            result = refresh(self.app)
        except RmmNotActivated as exc:
            self.outage.heard("inventory", exc)
            Activation(self.app, now=self._now).pending(exc)
            return None
        except RmmCredentialsRefused as exc:
            self.outage.heard("inventory", exc)
            Activation(self.app, now=self._now).refused()
            self.last_failure = report_failure(
                self.app, "inventory", "Continuum refused the Security Code", exc,
                todo="Correct [Continuum] PSG in the INI; the agent retries the inventory at the next refresh.",
                event_kind=events.SECURITY_CODE_REFUSED)
            return None
        except FileInUse as exc:
            report_failure(self.app, "inventory", "The new inventory files could not be put in place", exc,
                           todo="Close the program that holds the file open. The agent puts the downloaded files "
                                "in place at its next housekeeping round (within 10 minutes) or refresh.",
                           event_kind=events.INVENTORY_FAILED)
            return None
        except Exception as exc:  # noqa: BLE001 - the service must keep running; retried next interval
            if self._during_outage(exc):
                self.last_failure = describe(exc)
                return None
            self.last_failure = report_failure(
                self.app, "inventory", "The inventory refresh failed", exc,
                todo="The previous inventory files were kept; the agent retries at the next "
                     "refresh (InventoryRefreshMinutes). Check the network and ContinuumURL if it lasts.",
                event_kind=events.INVENTORY_FAILED)
            return None
        self.outage.answered("inventory")
        self._record(result)
        return result

    def _during_outage(self, exc: BaseException) -> bool:
        """Tell the outage tracker; once it has reported the outage, that report speaks for this
        failure too (a line in the log, no report of its own). Whether it did."""
        level = self.outage.heard("inventory", exc)  # a refusal is an answer: no outage then
        if level is None or not self.outage.ongoing:
            return False
        logger.log(level, "The inventory refresh failed while Continuum does not answer; the previous inventory "
                          "files were kept, the agent retries at the next refresh: {}", describe(exc))
        return True

    def _record(self, result: InventoryResult) -> None:
        failure = record_values(self.app.state, {"last_inventory_refresh": _iso(self._now()),
                                                  "inventory_sites": str(result.sites),
                                                  "inventory_devices": str(result.devices),
                                                  "inventory_changes": result.changes.summary()})
        if failure is not None:
            self.last_failure = report_failure(self.app, "store", "Recording the inventory refresh in the store failed",
                                               failure)
        Activation(self.app, now=self._now).confirmed(what="the inventory was downloaded")
        logger.info("Inventory refreshed: {}", result.summary())
        for line in result.changes.lines():
            logger.info("inventory change: {}", line)
        refreshed = events.Event(events.INVENTORY_REFRESHED, f"Inventory refreshed: {result.summary()}",
                                 result.as_dict(), logged=True)
        notify_quietly(self.app, refreshed)


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
