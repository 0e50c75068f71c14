"""Request drops: ``*.xml`` files in the requests folder become store changes and outbox rows (D3).

For each drop, in this order (a crash at any point is safe):

1. read and validate it (a file still being written is kept for a later look);
2. in ONE transaction: claim its id and content hash in the request inbox and do or queue
   its work — a duplicate id with the same content does nothing;
3. write its result (``Results/<id>.xml``) from the state the store holds;
4. move the file to ``Processed/`` or ``Failed/``.

Drops that arrive together are handled as a batch: step 2 for all of them in one
transaction (each inside its own savepoint, so one failing request undoes only itself), then
all results, then all moves, the file writes in parallel (fsync dominates their cost).

A restart after 2 finds the id claimed with the same hash and only repeats 3 and 4. Results
are always written from the store under one lock, so a ``Queued`` result can never overwrite
the ``Done`` that the outbox sender wrote a moment before.

A drop whose id is already used by a different request fails with ``DuplicateId``; its result
goes to ``Results/<id>.duplicate.xml`` so the first request's result stays in place. A drop
with no readable id is recorded under ``file:<name>:<hash>`` and its result is named after
the file.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from agent.errors import ZenithError, code_of, describe, sentence
from agent.ports.state import DUPLICATES_STATE
from agent.reporting import report_failure
from agent.sync.outbound import registry
from agent.sync.request_results import in_parallel, write_request_result, write_result_file
from dbsys import drops
from dbsys.atomic import fsync_folder
from dbsys.fsops import FileInUse

if TYPE_CHECKING:
    from agent.sync.engine_app import EngineApp

# How long a drop that ends early (truncated XML) may still be being written: GRACE_SECONDS of
# no change once its writer closed it or when the file system says nothing of its writer, and
# IN_PLACE_SECONDS at most while its writer has it open (a writer that pauses mid-write). XML
# that is wrong before its end fails at once.
GRACE_SECONDS = 1.0
IN_PLACE_SECONDS = 30.0
RECHECK_SECONDS = 0.2
#: How many times a drop whose handling raises an unexpected error is tried before it is failed.
UNEXPECTED_TRIES = 3
BATCH = 200
# fsync dominates the cost of a drop; many in flight at once share the journal commits.
SETTLE_THREADS = 16


@dataclass
class Outcome:
    """The store's verdict on one drop: the row to write a result from."""

    request_id: str
    result_name: str
    failed: bool
    queued: bool = False


class RequestProcessor:
    """Takes request drops exactly once; the folder watcher's callback (also fed by full scans)."""

    def __init__(self, app: EngineApp, *, grace_seconds: float = GRACE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.grace_seconds = grace_seconds
        self._clock = clock
        self._first_seen: dict[Path, tuple[tuple[int, int], float]] = {}
        self._unexpected: dict[tuple[Path, str], int] = {}
        self.folder = Path(app.settings.requests_folder).absolute()
        self.results_folder = self.folder / "Results"
        self.processed_folder = self.folder / "Processed"
        self.failed_folder = self.folder / "Failed"
        self.table = drop_table()
        self._lock = threading.RLock()
        self._pending: set[Path] = set()
        self._timer: threading.Timer | None = None
        self._closed = False
        #: ``writer_done(path, mtime_ns)`` of the folder watcher: whether the drop's writer has
        #: closed it after its last change (``None``: the file system does not say).
        self.writer_done: Callable[[Path, int], bool | None] | None = None

    # -- entry points ----------------------------------------------------------------------
    def process(self, paths: set[Path]) -> int:
        """Handle the candidate drops in ``paths`` (and any kept for a later look); returns how many were taken."""
        with self._lock:
            candidates = {Path(p).absolute() for p in paths} | self._pending
            self._pending = set()
            ready = [item for item in map(self._read_drop, _oldest_first(candidates)) if item is not None]
            taken = 0
            for start in range(0, len(ready), BATCH):
                taken += self._take(ready[start:start + BATCH])
            self._schedule_recheck()
            return taken

    def _take(self, batch: list[tuple[Path, Any]]) -> int:
        """Claim a batch in one transaction, then write its results, then move its files."""
        claimed: list[tuple[Path, Outcome]] = []
        queued = False
        with self.app.unit_of_work():  # the one unit of work of the batch's requests: nothing below opens another
            for path, parsed in batch:
                try:
                    if isinstance(parsed, drops.Request):
                        outcome = self._claim(parsed)
                    else:
                        with self.app.savepoint():
                            outcome = self._bad(path, *parsed)
                except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
                    failed = self._unexpected_error(path, parsed, exc)
                    if failed is None:
                        continue
                    outcome = failed
                queued = queued or outcome.queued
                claimed.append((path, outcome))
        if queued:
            self.app.outbox_wake.set()
        self._settle(claimed)
        return len(claimed)

    def scan(self) -> int:
        """Handle every drop in the folder (start-up and periodic full scans)."""
        return self.process(set(drops.request_files(self.folder)))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()

    @property
    def pending(self) -> set[Path]:
        """Drops seen but not complete yet."""
        return set(self._pending)

    # -- one drop --------------------------------------------------------------------------
    def _read_drop(self, path: Path) -> tuple[Path, Any] | None:
        """``(path, Request)`` or ``(path, (BadRequest, content hash))``; ``None``: gone, or not complete yet."""
        if not self._is_drop(path):
            return None
        if path.is_symlink():
            # Refused whether an event or a scan finds it: a link may point anywhere on the server.
            digest = hashlib.sha256(f"symlink:{path.name}".encode()).hexdigest()
            return path, (drops.BadRequest("Refused", f"{path.name} is a symbolic link, which is refused: drop "
                                           "the request file itself."), digest)
        try:
            before = os.stat(path)
            data = _read(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("cannot read request drop {}: {}; trying again later", path.name, exc)
            self._pending.add(path)
            return None
        digest = hashlib.sha256(data).hexdigest()
        if len(data) > drops.MAX_BYTES:  # too large: no need to read the rest
            return path, (drops.BadRequest("TooLarge", f"{path.name} is {before.st_size} bytes; a request may be "
                                           f"at most {drops.MAX_BYTES} bytes. Keep notes short and drop a smaller "
                                           "file."), digest)
        try:
            request = drops.parse_request(data, path.name, self.table)
        except drops.BadRequest as exc:
            if exc.ends_early and self._still_young(path, before):
                self._pending.add(path)  # probably still being written in place
                return None
            self._first_seen.pop(path, None)
            return path, (exc, digest)
        if _changed(path, before):
            self._pending.add(path)  # well-formed, yet the writer is still at it
            return None
        return path, request

    def _still_young(self, path: Path, before: os.stat_result) -> bool:
        """Whether a drop that ends early may still be being written. Its writer closing it says
        nothing: a batch file's ``echo … >> drop.xml`` or a note written in pieces opens, appends
        and closes the file once per chunk, so it waits out the grace since its last change."""
        done = self.writer_done(path, before.st_mtime_ns) if self.writer_done else None
        age = time.time() - before.st_mtime
        if age >= 0:
            return age < (IN_PLACE_SECONDS if done is False else self.grace_seconds)
        # A modification time in the future (a clock ahead, a copied file) says nothing: judge
        # by how long this processor has seen the file unchanged.
        signature = (before.st_size, before.st_mtime_ns)
        seen = self._first_seen.get(path)
        if seen is None or seen[0] != signature:
            self._first_seen[path] = (signature, self._clock())
            return True
        return self._clock() - seen[1] < self.grace_seconds

    def _claim(self, request: drops.Request) -> Outcome:
        """Claim one drop and do or queue its work inside the batch's unit of work, in one savepoint:
        a refused action undoes its own writes, then its refusal is recorded."""
        state = self.app.state
        with self.app.psa.keyed(f"request:{request.id}"):
            try:
                with self.app.savepoint():
                    seen = state.request_seen(request.id)
                    if seen is not None:
                        if seen["content_hash"] == request.content_hash:
                            logger.info("request {} ({}) was taken before; moving the file away", request.id,
                                        request.filename)
                            return Outcome(request.id, request.id, seen["status"] == "Failed")
                        return self._duplicate_id(request, seen)
                    try:
                        status, extra, queued = self._work(request)
                    except ZenithError as exc:
                        raise _Refused(exc) from exc
                    state.record_request(request.id, request.content_hash, request.filename, request.action,
                                         request.user, status,
                                         continuum_ticket_id=extra.pop("ContinuumTicketID", None), extra=extra)
                    return Outcome(request.id, request.id, False, queued)
            except _Refused as refused:
                error_code, error_message = code_of(refused.error), _advice(refused.error)
                state.record_request(request.id, request.content_hash, request.filename, request.action, request.user,
                                     "Failed", error_code=error_code, error_message=error_message)
        logger.warning("request {} ({} by {}) failed: {}", request.id, request.action, request.user, error_message)
        return Outcome(request.id, request.id, True)

    def _work(self, request: drops.Request) -> tuple[str, dict[str, str], bool]:
        """Do or queue the request's work; (status, result extras, whether an outbox row was queued)."""
        action = registry.by_drop(request.action)
        if action is not None:
            done = action.run(self.app, request.fields, request.user, request.id)
            extra = {"ContinuumTicketID": done.continuum_ticket_id} if done.continuum_ticket_id else {}
            return ("Queued" if done.has_outbox_row else "Done"), extra, done.has_outbox_row
        return "Done", self._link(request), False

    def _link(self, request: drops.Request) -> dict[str, str]:
        from agent.sync import accounts
        from agent.sync.links import LinksManager

        links, f, user = LinksManager(self.app), request.fields, request.user
        action = request.action
        if action == "LinkSite":
            links.link_site(f["SiteCode"], f["AccountRecID"], user)
        elif action == "UnlinkSite":
            links.unlink_site(f["SiteCode"], user)
        elif action == "UnlinkAccount":
            accounts.unlink_account(self.app, f["AccountRecID"], user)
        elif action == "CreateAccountFromSite":
            # The drop's contract (contracts/dbsys-files.md): the account is named after the site.
            return {"AccountRecID": links.create_account_from_site(f["SiteCode"], user, after_client=False)}
        elif action == "LinkDevice":
            links.link_device(f["DeviceID"], f["AssetRecID"], user)
        elif action == "UnlinkDevice":
            links.unlink_device(f["DeviceID"], user)
        elif action == "CreateAssetFromDevice":
            return {"AssetRecID": links.create_asset_from_device(f["DeviceID"], f.get("AccountRecID"), user)}
        return {}

    def _duplicate_id(self, request: drops.Request, seen: dict[str, Any]) -> Outcome:
        name = f"{request.id}.duplicate"
        message = (f"the id {request.id!r} was used by an earlier request ({seen['action']}, from "
                   f"{seen['filename']}, status {seen['status']}) with different content; nothing was done. "
                   "Give every request a new, unique id and drop it again.")
        logger.warning("request file {}: {}", request.filename, message)
        self._write(name, request.action, "Failed", error_code="DuplicateId", error_message=message)
        # Its id belongs to the earlier request, so the store has no row for it: counted apart, so
        # that status counts every failed drop.
        state = self.app.state
        state.set_state(DUPLICATES_STATE, str(int(state.get_state(DUPLICATES_STATE) or 0) + 1))
        return Outcome(request.id, "", True)

    def _unexpected_error(self, path: Path, parsed: Any, exc: Exception) -> Outcome | None:
        """A drop whose handling raised a bug's error: left for the next scan a few times, then
        failed with a result and an error report, so that it is neither retried for ever nor lost."""
        digest = parsed.content_hash if isinstance(parsed, drops.Request) else parsed[1]
        key = (path, digest)
        tries = self._unexpected[key] = self._unexpected.get(key, 0) + 1
        if tries < UNEXPECTED_TRIES:
            logger.opt(exception=exc).error("request drop {} could not be handled ({} of {} tries): {}; it stays "
                                            "for the next scan", path.name, tries, UNEXPECTED_TRIES, describe(exc))
            return None
        del self._unexpected[key]
        request_id = parsed.id if isinstance(parsed, drops.Request) else parsed[0].request_id
        refused = drops.BadRequest("Unprocessable", f"the agent could not handle {path.name} ({describe(exc)}); "
                                   "nothing was done. Send the error report to the maintainers, then drop the "
                                   "request again with a new id.", request_id)
        report_failure(self.app, "request", f"The request drop {path.name} could not be handled", exc,
                       todo="Read the result file; drop the request again with a new id once the cause is fixed.")
        with self.app.savepoint():
            return self._bad(path, refused, digest)

    def _bad(self, path: Path, exc: drops.BadRequest, content_hash: str) -> Outcome:
        """A drop that is not a valid request: claim it (by id, else by file) as Failed."""
        state = self.app.state
        request_id = exc.request_id or f"file:{path.name[:120]}:{content_hash[:16]}"
        seen = state.request_seen(request_id)
        if seen is not None and seen["content_hash"] != content_hash:
            bogus = drops.Request(request_id, "", "", {}, content_hash, path.name)
            return self._duplicate_id(bogus, seen)
        if seen is None:
            state.record_request(request_id, content_hash, path.name, exc.action, "", "Failed",
                                 error_code=exc.code, error_message=exc.message)
        logger.warning("request file {} refused ({}): {}", path.name, exc.code, exc.message)
        return Outcome(request_id, exc.request_id or Path(path.name).stem, True)

    def _settle(self, claimed: list[tuple[Path, Outcome]]) -> None:
        """Results first (durable), then the moves: a crash in between only repeats both.

        The results' renames are made durable together, with one fsync of their folder: one
        per file, for a batch of hundreds, kept the disk from the outbox sender's commits."""
        written = [functools.partial(write_request_result, self.app, o.request_id, name=o.result_name,
                                     sync_folder=False) for _p, o in claimed if o.result_name]
        in_parallel(written, SETTLE_THREADS)
        if written:
            fsync_folder(self.results_folder)
        in_parallel([functools.partial(self._move, p, o) for p, o in claimed], SETTLE_THREADS)
        # The moves likewise: each folder once for the batch (a crash before this only puts a
        # drop back in the folder, where it is found taken and moved again).
        if claimed:
            moved_to = {self.failed_folder if o.failed else self.processed_folder for _p, o in claimed}
            for folder in (*sorted(moved_to), self.folder):
                fsync_folder(folder)

    def _move(self, path: Path, outcome: Outcome) -> None:
        # Two movers of one file could each leave a copy (link, link under "-1", unlink).
        with self.app.request_file_locks.move(path.name):
            try:
                drops.move_to(path, self.failed_folder if outcome.failed else self.processed_folder, sync=False)
            except FileNotFoundError:
                pass  # moved by someone else meanwhile; the result stands
            except FileInUse as exc:
                # Claimed and answered already: a later scan finds it taken and moves it then.
                logger.warning("request drop {} was handled, but it stays in the folder for now: {}", path.name,
                               exc)

    def _write(self, name: str, action: str, status: str, **kwargs: Any) -> None:
        write_result_file(self.app, name, action, status, **kwargs)

    # -- housekeeping ----------------------------------------------------------------------
    def _is_drop(self, path: Path) -> bool:
        return (path.parent == self.folder and path.name.lower().endswith(".xml")
                and not _is_temp(path.name) and (path.is_symlink() or path.is_file()))

    def _schedule_recheck(self) -> None:
        if not self._pending or self._closed or (self._timer is not None and self._timer.is_alive()):
            return
        self._timer = threading.Timer(RECHECK_SECONDS, self._recheck)
        self._timer.daemon = True
        self._timer.start()

    def _recheck(self) -> None:
        with self._lock:
            self._timer = None  # this timer is done: process() may arm the next one
        try:
            self.process(set())
        except Exception:  # noqa: BLE001 - a timer thread must not die noisily
            logger.exception("re-checking request drops failed")


def drop_table() -> drops.Table:
    """What a drop may ask for: the outbound registry's ticket actions, then the link actions."""
    return {**registry.drop_specs(), **drops.LINK_ACTIONS}


class _Refused(Exception):
    """A request's action refused (a :class:`ZenithError`): raised through its savepoint to undo its writes."""

    def __init__(self, error: ZenithError) -> None:
        super().__init__(str(error))
        self.error = error


def _advice(exc: ZenithError) -> str:
    text = describe(exc)
    # The request id is spent: a retry after fixing the cause needs a new one.
    return f"{sentence(text)} Then drop the request again with a new id."


def _read(path: Path) -> bytes:
    """At most one byte more than a request may hold."""
    with open(path, "rb") as fh:
        return fh.read(drops.MAX_BYTES + 1)


def _changed(path: Path, before: os.stat_result) -> bool:
    try:
        after = os.stat(path)
    except FileNotFoundError:
        return True
    return (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns)


def _is_temp(name: str) -> bool:
    from dbsys.atomic import is_temp_name

    return is_temp_name(name)


def _oldest_first(paths: set[Path]) -> list[Path]:
    def key(p: Path) -> tuple[int, str]:
        try:
            return os.stat(p).st_mtime_ns, p.name
        except OSError:
            return 0, p.name
    return sorted(paths, key=key)
