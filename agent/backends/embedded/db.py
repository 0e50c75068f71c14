"""The SQLite connection: WAL, synchronous=FULL, one writer, explicit re-entrant transactions.

A read outside the reading thread's own transaction goes to a connection of a small pool of
readers instead (WAL lets readers go on beside the writer): it sees what is committed, as it
did when it waited for the writer's lock, but it no longer waits for another thread's long
transaction (a batch of hundreds of request drops) to end.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from agent.backends.embedded.migrations import MIGRATIONS
from agent.errors import ConstraintError, StoreError
from agent.ports.times import now_iso, parse_stored_time, stored_time  # noqa: F401 - the store's time format
from dbsys import fsops
from dbsys.host import OWNER_ONLY

#: Parameters of one SQL statement: positional or named.
Params = tuple[Any, ...] | dict[str, Any]
_MISSING = object()  # what a memo holds for a key it has not loaded (None is a value it may hold)
#: Idle reader connections kept open; more are opened while more threads read at once.
_IDLE_READERS = 8


class Database:
    """One connection shared by the agent's threads; a lock makes it the only writer.

    ``transaction()`` is re-entrant: nested calls join the outer transaction, so an engine can
    make many store calls and commit them (with its cursor) at once.
    """

    def __init__(self, path: Path | str, *, before_upgrade: Callable[[int], None] | None = None) -> None:
        """``before_upgrade(version)`` is called before an existing store of an older schema is
        migrated; it raises to refuse (another process may still be using the old schema)."""
        self.path = Path(path)
        self._before_upgrade = before_upgrade
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _create_owner_only(self.path)
        try:
            self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {path}: {exc}. "
                             "Check that the folder exists and is writable.") from None
        self.conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        self._serial = 0
        self._memos: dict[str, dict[Any, Any]] = {}
        self._memo_serial = 0
        self._on_commit: list[Callable[[], None]] = []
        self._savepoints = 0
        #: The thread whose transaction is open (reads of its own go to its connection).
        self._owner: int | None = None
        self._readers: list[sqlite3.Connection] = []  # idle ones
        self._readers_lock = threading.Lock()
        self._closed = False
        self._holding = 0
        self._held: dict[str, list[Params]] = {}  # statement -> rows, in the order first held
        self._held_tables: tuple[str, ...] = ()  # the tables they go into
        self._pragmas()
        self._migrate()

    def _pragmas(self) -> None:
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=30000")

    def _migrate(self) -> None:
        with self._lock:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreError(f"the store {self.path} was written by a newer zenithlink (schema {version}); "
                                 "upgrade the agent")
            if 0 < version < len(MIGRATIONS) and self._before_upgrade is not None:
                self._before_upgrade(version)
            for step in range(version, len(MIGRATIONS)):
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(MIGRATIONS[step]):
                        self.conn.execute(statement)
                    self.conn.execute(f"PRAGMA user_version={step + 1}")
                    self.conn.execute("COMMIT")
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
                from loguru import logger  # on use: a command that never logs here starts faster
                logger.debug("store migrated to schema {}", step + 1)

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def transaction(self, *, durable: bool = True) -> _Transaction:
        """``with db.transaction() as conn:``; re-entrant (a nested one joins the outer transaction).

        ``durable=False`` commits without waiting for the disk (``synchronous=NORMAL`` for that
        one commit): a crash of the process loses nothing, a power cut may lose that transaction
        (never half of it), and the next durable commit makes it durable too. Only for writes
        that are safe to lose, such as a note that Continuum was told something it may be told
        again. Ignored when the transaction joins an outer one.
        """
        return _Transaction(self, durable)

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @property
    def transaction_serial(self) -> int | None:
        """A number that names the current outer transaction (``None`` outside one).

        Lets a caller keep a value worked out inside a transaction (a counter, say) for exactly
        as long as that transaction lasts: a new transaction has a new number.
        """
        return self._serial if self._depth else None

    def cached(self, memo: str, key: Any, load: Callable[[], Any]) -> Any:
        """``load()``, remembered under ``(memo, key)`` until the current transaction ends.

        Outside a transaction nothing is remembered. Inside one, nothing else writes, so a value
        read once stays true unless this store's own methods change it: those that do call
        :meth:`forget` with the memo's name. An exception from ``load`` is not remembered.
        """
        with self._lock:
            if not self._depth:
                return load()
            if self._memo_serial != self._serial:
                self._memos, self._memo_serial = {}, self._serial
            # Asked several times for every ticket the inbound sync makes: one look-up on a hit.
            table = self._memos.get(memo)
            if table is None:
                table = self._memos[memo] = {}
            value = table.get(key, _MISSING)
            if value is _MISSING:
                value = table[key] = load()
            return value

    def remember(self, memo: str, values: dict[Any, Any]) -> None:
        """What :meth:`cached` would load for each key of ``values``, read together by the caller
        (one query for a page's worth of keys); nothing outside a transaction."""
        with self._lock:
            if not self._depth:
                return
            if self._memo_serial != self._serial:
                self._memos, self._memo_serial = {}, self._serial
            self._memos.setdefault(memo, {}).update(values)

    def forget(self, *memos: str) -> None:
        """Drop what :meth:`cached` remembers under these names."""
        with self._lock:
            for memo in memos:
                self._memos.pop(memo, None)

    def hold_inserts(self) -> AbstractContextManager[None]:
        """Inside a transaction: the rows given to :meth:`insert` wait and are written together.

        They are written, one ``executemany`` per statement in the order each statement was
        first held, before any other statement runs on the connection that may see them (a read
        that names one of their tables, any write, the commit), so every reader sees them as if
        they had been written at once. (A read that names none of their tables cannot see them:
        the store has no views or triggers.) A statement's rows may depend on the rows of
        statements held before it (a ticket's note on its ticket), not on later ones.
        Re-entrant; outside a transaction it holds nothing.
        """
        return _HeldInserts(self)

    def writing(self) -> AbstractContextManager[None]:
        """A unit for a few writes that belong together: the current transaction while this thread
        holds inserts (a nested one would write them at once), else :meth:`transaction`."""
        return _Writing(self)

    def insert(self, sql: str, params: Params) -> None:
        """Run one INSERT: held inside :meth:`hold_inserts` (and a transaction), else at once."""
        with self._lock:
            if self._holding and self._depth:
                rows = self._held.get(sql)
                if rows is None:
                    rows = self._held[sql] = []
                    self._held_tables += (sql.split()[2].split("(")[0],)  # INSERT INTO <table>(...
                rows.append(params)
                return
        self.execute(sql, params)

    def _write_held(self) -> None:
        """Write the held rows (called with the lock held, before any other statement)."""
        held = self._take_held()
        try:
            for sql, rows in held.items():
                self.conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from exc

    def _take_held(self) -> dict[str, list[Params]]:
        held, self._held, self._held_tables = self._held, {}, ()
        return held

    def _sees_held(self, sql: str) -> bool:
        return any(table in sql for table in self._held_tables)

    def on_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the current transaction has committed (at once outside one).

        A rollback drops it. For telling others about a change (notifiers): they must never
        hear of one that did not happen. An exception from ``action`` is logged, not raised:
        the commit it follows stands.
        """
        with self._lock:
            if self._depth:
                self._on_commit.append(action)
                return
        _run_after_commit([action])

    def query(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return self._read(sql, params, sqlite3.Cursor.fetchall)

    def query_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        return self._read(sql, params, sqlite3.Cursor.fetchone)

    def _read(self, sql: str, params: Params, fetch: Callable[[sqlite3.Cursor], Any]) -> Any:
        reader = self._reader()
        if reader is None:
            with self._lock:
                if self._held and self._sees_held(sql):
                    self._write_held()
                try:
                    return fetch(self.conn.execute(sql, params))
                except sqlite3.Error as exc:
                    raise store_error(exc, self.path) from exc
        try:
            cursor = reader.execute(sql, params)
            try:
                return fetch(cursor)
            finally:
                cursor.close()  # a statement left open would hold its read snapshot
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from exc
        finally:
            self._give_back(reader)

    def _reader(self) -> sqlite3.Connection | None:
        """A reader for a read outside this thread's own transaction; ``None``: read on the
        writer's connection (inside the transaction, or a store in memory, which readers would not see)."""
        if self._owner == threading.get_ident() or self._closed or str(self.path) == ":memory:":
            return None
        with self._readers_lock:
            if self._readers:
                return self._readers.pop()
        try:
            reader = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        except sqlite3.Error:
            return None  # the writer's connection serves, as before
        reader.row_factory = sqlite3.Row
        reader.execute("PRAGMA query_only=ON")
        reader.execute("PRAGMA busy_timeout=30000")
        return reader

    def _give_back(self, reader: sqlite3.Connection) -> None:
        with self._readers_lock:
            if not self._closed and len(self._readers) < _IDLE_READERS:
                self._readers.append(reader)
                return
        reader.close()

    def scalar(self, sql: str, params: Params = ()) -> Any:
        row = self.query_one(sql, params)
        return row[0] if row is not None else None

    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        with self.transaction() as conn:  # joins the open transaction, if any
            return conn.execute(sql, params)

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested unit of the current transaction that is undone alone when it raises.

        The undo covers more than the rows: what :meth:`cached` remembered is dropped (it may
        describe rows that are gone), and the :meth:`on_commit` actions queued inside it are
        dropped (nobody may hear of a change that never committed).
        """
        return _savepoint(self)

    def integrity_check(self) -> str:
        return self.scalar("PRAGMA integrity_check")

    def backup(self, target: Path) -> None:
        """A consistent copy, taken while the agent may be writing (SQLite online backup)."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        _create_owner_only(tmp)
        dest = sqlite3.connect(str(tmp))
        try:
            with self._lock:
                self.conn.backup(dest)
            dest.execute("PRAGMA journal_mode=DELETE")
        finally:
            dest.close()
        fsops.replace(tmp, target)

    def close(self) -> None:
        with self._lock:
            with self._readers_lock:
                self._closed = True
                readers, self._readers = self._readers, []
            for reader in readers:
                reader.close()
            self.conn.close()


class _Transaction:
    """The context manager of :meth:`Database.transaction` (a class: it is entered for nearly
    every row the agent writes, and a generator-based one costs several times more)."""

    __slots__ = ("db", "durable")

    def __init__(self, db: Database, durable: bool = True) -> None:
        self.db = db
        self.durable = durable

    def __enter__(self) -> sqlite3.Connection:
        db = self.db
        db._lock.acquire()
        if db._depth:
            if db._held:
                try:
                    db._write_held()  # whatever the caller runs next comes after them
                except BaseException:
                    db._lock.release()
                    raise
            db._depth += 1
            self.durable = True  # joined: the outer transaction decides
            return db.conn
        try:
            if not self.durable:
                db.conn.execute("PRAGMA synchronous=NORMAL")
            db.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._restore()
            db._lock.release()
            raise
        db._depth = 1
        db._serial += 1
        db._owner = threading.get_ident()
        return db.conn

    def _restore(self) -> None:
        if not self.durable:
            self.db.conn.execute("PRAGMA synchronous=FULL")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        db = self.db
        committed: list[Callable[[], None]] = []
        try:
            if db._depth > 1:
                db._depth -= 1
                if isinstance(exc, sqlite3.Error):
                    raise store_error(exc, db.path) from exc
                return False
            db._depth = 0
            db._owner = None
            pending, db._on_commit = db._on_commit, []
            held = db._take_held()
            if exc_type is not None:
                # SQLite may have rolled back already (a full disk does): a second ROLLBACK would
                # fail and hide the error that matters.
                if db.conn.in_transaction:
                    db.conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise store_error(exc, db.path) from exc
                return False
            try:
                for sql, rows in held.items():
                    db.conn.executemany(sql, rows)
                db.conn.execute("COMMIT")
            except sqlite3.Error as error:
                if db.conn.in_transaction:  # never leave a failed commit's transaction open
                    db.conn.execute("ROLLBACK")
                raise store_error(error, db.path) from error
            committed = pending
            return False
        finally:
            try:
                if db._depth == 0:
                    self._restore()
            finally:
                db._lock.release()
            if committed:
                _run_after_commit(committed)


class _HeldInserts:
    """The context manager of :meth:`Database.hold_inserts`: holds the lock throughout, so no other
    thread's statement runs between a held row and its write."""

    __slots__ = ("db",)

    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db._lock.acquire()
        self.db._holding += 1

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        db = self.db
        try:
            db._holding -= 1
            if not db._holding and db._held and exc_type is None:
                db._write_held()
        finally:
            db._lock.release()


class _Writing:
    """The context manager of :meth:`Database.writing`."""

    __slots__ = ("db", "joined")

    def __init__(self, db: Database) -> None:
        self.db = db
        self.joined: _Transaction | None = None

    def __enter__(self) -> None:
        db = self.db
        db._lock.acquire()  # so that "holding" is this thread's
        if db._holding and db._depth:
            return
        self.joined = _Transaction(db)
        try:
            self.joined.__enter__()
        except BaseException:
            db._lock.release()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self.joined is not None:
                self.joined.__exit__(exc_type, exc, tb)
        finally:
            self.db._lock.release()


@contextmanager
def _savepoint(db: Database) -> Iterator[None]:
    with db.transaction() as conn:
        db._savepoints += 1
        name = f"unit_{db._savepoints}"
        queued = len(db._on_commit)
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            del db._on_commit[queued:]
            db._take_held()  # held inside the savepoint: its start wrote the ones before
            db._serial += 1  # a new number: every memo of this transaction is forgotten
            raise
        finally:
            db._savepoints -= 1
        conn.execute(f"RELEASE {name}")


def store_error(exc: sqlite3.Error, path: Path) -> StoreError | ConstraintError:
    """The project's error for an SQLite failure: a constraint is the caller's, the rest the disk's."""
    if isinstance(exc, sqlite3.IntegrityError):
        return ConstraintError(f"the store refused a write: {exc}")
    if getattr(exc, "sqlite_errorcode", None) == 13 or "disk is full" in str(exc):  # SQLITE_FULL
        return StoreError(f"the disk that holds the store {path} is full: free space on that drive. The "
                          "write was undone, nothing is lost, and the agent goes on once there is room.")
    return StoreError(f"the store {path} failed: {exc}. Check the disk, then run 'zenithlink backup' and restart.")


def _run_after_commit(actions: list[Callable[[], None]]) -> None:
    for action in actions:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - the commit stands; say what was not done after it
            from loguru import logger  # on use: a command that never logs here starts faster
            logger.warning("after a store commit, {} failed: {}", getattr(action, "__qualname__", action), exc)


def _create_owner_only(path: Path) -> None:
    """Create an empty ``path`` readable by its owner only, unless it exists: SQLite would create it
    world-readable, and the -wal and -shm files SQLite makes beside it take the same mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"cannot create the store {path}: {exc}. Check that the folder is writable.") from None


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
