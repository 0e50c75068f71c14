"""Putting a new pair of inventory files in place so that a mixed pair never stays.

The refresh downloads both files to temporary names. Publishing them then takes two steps,
both sites first, then devices, under a lock that every process on the folder takes:

1. each downloaded file is renamed to its *pending* name (``.ZenithSites_<ID>.cmt.pending``):
   the new pair now waits, complete, beside the old one;
2. each pending file is renamed over its final name.

A rename over a file that another program holds open fails on Windows (a RangerMSP client
reading the devices file over SMB, an antivirus scanner), even after the retries of
:mod:`dbsys.fsops`. When that stops step 2 after the sites, the new sites sit beside the old
devices, and the pending devices file says so: :func:`complete` (at the next refresh, at
start-up and at every housekeeping round) finishes the publish. Because both steps go in the
same order, the pending files that exist tell how far a publish got:

- none: nothing to finish;
- sites only: step 1 stopped half-way, the new pair never was complete: it is dropped;
- sites and devices: step 1 is done: step 2 is done now;
- devices only: step 2 stopped after the sites: the devices follow now.

Pending names are not temporary names, so the sweep of stray temporary files leaves them alone.
"""

from __future__ import annotations

from pathlib import Path

import filelock
from loguru import logger

from agent.errors import ZenithError
from agent.ports.rmm import Kind
from dbsys import fsops
from dbsys.atomic import fsync_folder, remove_quietly

KINDS: tuple[Kind, ...] = ("sites", "devices")
PENDING_SUFFIX = ".pending"
LOCK_NAME = ".zenithlink-inventory.lock"
# Both steps take seconds at worst (the retries of fsops); a publish waiting longer is stuck.
LOCK_WAIT_SECONDS = 120.0


class PublishStuck(ZenithError):
    code = "PublishStuck"


def pending_path(final: Path) -> Path:
    """Where the new ``final`` waits until the pair is published."""
    return final.with_name(f".{final.name}{PENDING_SUFFIX}")


def publish(staged: dict[str, Path], finals: dict[str, Path]) -> None:
    """Put the downloaded files ``staged`` (by kind) in place of ``finals``; see the module docstring.

    An earlier publish left half-done is finished first. When step 1 fails, the previous
    files stay as they were; when step 2 fails, :func:`complete` finishes it later.
    """
    with _publish_lock(finals):
        _complete(finals)
        pending = {kind: pending_path(finals[kind]) for kind in KINDS}
        try:
            for kind in KINDS:
                fsops.replace(staged[kind], pending[kind])
        except BaseException:
            for path in pending.values():
                remove_quietly(path)
            raise
        fsync_folder(finals["sites"].parent)
        _complete(finals)


def complete(finals: dict[str, Path]) -> bool:
    """Finish (or drop) a publish that an error or a crash left half-done; True when one was finished."""
    if not any(pending_path(path).exists() for path in finals.values()):
        return False
    with _publish_lock(finals):
        return _complete(finals)


def _complete(finals: dict[str, Path]) -> bool:
    pending = {kind: pending_path(finals[kind]) for kind in KINDS}
    waiting = {kind for kind in KINDS if pending[kind].exists()}
    if not waiting:
        return False
    if waiting == {"sites"}:
        logger.info("Dropped {}: the publish it belongs to never had both files", pending["sites"].name)
        fsops.remove(pending["sites"])
        return False
    if waiting == {"devices"}:
        logger.warning("{} was published without {}; publishing that one now", finals["sites"].name,
                       finals["devices"].name)
    for kind in KINDS:
        if kind in waiting:
            fsops.replace(pending[kind], finals[kind])
    fsync_folder(finals["sites"].parent)
    return True


def _publish_lock(finals: dict[str, Path]) -> _Held:
    return _Held(finals["sites"].parent / LOCK_NAME)


class _Held:
    """The cross-process publish lock, as a context manager with an error that says what to do."""

    def __init__(self, path: Path) -> None:
        self._lock = filelock.FileLock(path, thread_local=False)

    def __enter__(self) -> None:
        try:
            self._lock.acquire(timeout=LOCK_WAIT_SECONDS)
        except filelock.Timeout:
            raise PublishStuck(f"another process has been publishing the inventory files in "
                               f"{Path(self._lock.lock_file).parent} for {LOCK_WAIT_SECONDS:.0f} s; "
                               "check for a hung 'zenithlink inventory refresh' and stop it") from None

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
