"""The result files of request drops (``Results/<id>.xml``), written from the store's record.

One home below both writers: the request processor (``agent.sync.requests``) answers a drop as
it takes it, and the outbox sender (``agent.sync.outbound.sender``) answers it again once the RMM
has. Both write from the store under one lock per request, so a late ``Queued`` never replaces
the ``Done`` the other wrote a moment before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from loguru import logger

from agent.sync.engine_app import EngineApp
from dbsys import results


def results_folder(app: EngineApp) -> Path:
    return Path(app.settings.requests_folder) / "Results"


def write_request_result(app: EngineApp, request_id: str, *, name: str | None = None,
                         sync_folder: bool = True) -> Path | None:
    """(Re)write the result file of a request from the store's record of it (``sync_folder``: see
    :func:`dbsys.results.write_result`)."""
    with app.request_file_locks.result(request_id):
        row = app.state.request_seen(request_id)
        if row is None:
            return None
        failed = row["status"] == "Failed"
        return results.write_result(results_folder(app), name or request_id, row["action"] or "", row["status"],
                                    continuum_ticket_id=row["continuum_ticket_id"],
                                    error_code=(row["error_code"] or "Error") if failed else None,
                                    error_message=(row["error_message"] or "see the log") if failed else None,
                                    extra=row["extra"], sync_folder=sync_folder)


def write_result_file(app: EngineApp, name: str, action: str, status: str, **kwargs: Any) -> Path:
    """A result the store keeps no row for (a drop whose id another request holds), under its lock."""
    with app.request_file_locks.result(name):
        return results.write_result(results_folder(app), name, action, status, **kwargs)


def repair_results(app: EngineApp) -> int:
    """Rewrite every ``Queued`` result whose request the store has finished (Done or Failed): an
    agent killed between the sender's commit and its result file leaves such a file. Returns how
    many were rewritten."""
    repaired = 0
    for found in results.list_results(results_folder(app)):
        if found["status"] != "Queued" or not found["id"]:
            continue
        row = app.state.request_seen(found["id"])
        if row is not None and row["status"] != "Queued":
            write_request_result(app, found["id"], name=Path(found["file"]).stem)
            repaired += 1
    if repaired:
        logger.info("{} result file(s) said Queued for requests that were finished; rewritten", repaired)
    return repaired


def write_request_results(app: EngineApp, request_ids: list[str], *, threads: int) -> list[tuple[str, OSError]]:
    """Rewrite several requests' results side by side (at most ``threads`` at once), their renames
    left for the caller's one fsync of the results folder; returns the ``(request id, error)`` of
    those that could not be written."""
    failed: list[tuple[str, OSError]] = []

    def write(request_id: str) -> None:
        try:
            write_request_result(app, request_id, sync_folder=False)
        except OSError as exc:
            failed.append((request_id, exc))

    in_parallel([functools.partial(write, request_id) for request_id in request_ids], threads)
    return failed


def in_parallel(calls: Sequence[Callable[[], object]], threads: int) -> None:
    """Run the calls, in parallel (at most ``threads`` at once) when there are several; the first
    error is raised after all ran. (Each result file and each move waits for its own fsync; many in
    flight share the disk's journal commits.)"""
    if len(calls) <= 1 or threads <= 1:
        for call in calls:
            call()
        return
    with ThreadPoolExecutor(min(threads, len(calls)), thread_name_prefix="zenithlink-settle") as pool:
        futures = [pool.submit(call) for call in calls]
    errors = [error for error in (f.exception() for f in futures) if error is not None]
    if errors:
        raise errors[0]
