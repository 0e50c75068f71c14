"""The agent's status, computed in one place for the status file, ``zenithlink status`` and the web console.

The service writes :func:`file_fields` to ``ZenithStatus_<InstanceID>.xml`` (the fields of
``docs/troubleshooting.md``); :func:`gather_status` is the fuller document the command line
and the web console show: the status file's fields brought up to date from the store (which
is at least as fresh as the file), whether an agent holds the folder lock, the inventory files,
unlinked sites, the PSA's maintenance pause and the error reports. Only the presentation
differs between them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import __version__
from agent.ports.state import DUPLICATES_STATE
from agent.ports.times import now_iso
from agent.sync.alerts.kept import STATE_FIELDS as RECONCILE_FIELDS
from agent.sync.alerts.kept import summary as reconcile_summary
from agent.sync.health import RUN_STATES, health_fields
from dbsys import cmt, reports
from dbsys.status import read_status, status_path

if TYPE_CHECKING:
    from agent.app import App
    from agent.backends.embedded.state import StateStore
    from config.loader import Settings

# Fields of ZenithStatus_<InstanceID>.xml, in the file's order (docs/troubleshooting.md).
STATUS_FIELDS = ("version", "pid", "running", "started_at", "updated_at", "last_inventory_refresh",
                 "inventory_sites", "inventory_devices", "inventory_changes", "activation", "last_queue_poll",
                 "queue_cursor", "process_queue", "outbox_depth", "outbox_oldest", "requests_done",
                 "requests_failed", "last_error", "outage_since", "failing_since",
                 *RECONCILE_FIELDS)

# Sync-state keys of the store that are status fields under the same name.
_STATE_FIELDS = ("last_inventory_refresh", "inventory_sites", "inventory_devices", "inventory_changes", "activation",
                 "last_queue_poll", *RECONCILE_FIELDS)


def store_figures(state: StateStore) -> dict[str, Any]:
    """The figures the state store holds; every key is present (``None`` when unknown)."""
    counts = state.request_counts()
    figures: dict[str, Any] = {
        "queue_cursor": state.feed_cursor, "outbox_depth": state.outbox_depth(),
        "outbox_oldest": state.oldest_pending_outbox(),
        # a queued request counts as processed: its drop was accepted
        "requests_done": counts.get("Done", 0) + counts.get("Queued", 0),
        "requests_failed": counts.get("Failed", 0) + int(state.get_state(DUPLICATES_STATE) or 0),
        "requests_queued": counts.get("Queued", 0),
        "activation_pending_since": state.get_state("activation_pending_since")}
    stored = state.get_states((*_STATE_FIELDS, "last_error", *RUN_STATES))
    for key in _STATE_FIELDS:
        value = stored.get(key)
        figures[key] = int(value) if value is not None and value.isdigit() else value
    # What Continuum's failures mean now (last_error, outage_since, failing_since): the outage
    # tracker's view, cleared when Continuum answers again (absent in the store means none).
    figures.update(health_fields({key: stored.get(key) for key in ("last_error", *RUN_STATES)}, time.time()))
    return figures


def file_fields(app: App, *, started_at: str, running: bool = True) -> dict[str, Any]:
    """The fields of the status file the running agent writes."""
    figures = store_figures(app.state)
    fields: dict[str, Any] = {key: figures.get(key) for key in STATUS_FIELDS}
    fields.update({"version": __version__, "pid": os.getpid(), "running": running, "started_at": started_at,
                   "updated_at": now_iso(), "process_queue": bool(app.settings.process_queue)})
    return fields


def gather_status(app: App) -> dict[str, Any]:
    """The status document: the status file's fields, brought up to date from the store.

    Only looks: a fresh install has no store and no status file, and none is created.
    """
    from agent.runtime.installers import agent_running  # the service installers are not the status's business

    settings = app.settings
    folder = settings.dbsys_folder
    running, pid = agent_running(Path(folder))
    path = status_path(folder, settings.instance_id)
    doc: dict[str, Any] = dict.fromkeys(STATUS_FIELDS)
    doc.update({"running": running, "pid": pid, "config": str(app.config_path), "dbsys_folder": str(folder),
                "instance_id": settings.instance_id, "status_file": str(path), "status_file_found": path.exists(),
                "status_file_problem": None, "process_queue": settings.process_queue})
    if path.exists():
        try:
            fields = read_status(path)
        except (OSError, ValueError) as exc:
            doc["status_file_problem"] = f"cannot read {path.name}: {exc}"
        else:
            doc.update({k: v for k, v in fields.items() if k in STATUS_FIELDS and k not in ("pid", "running")})
            # The status file outlives the agent; its pid only counts while the lock is held.
            doc["pid"] = pid or (fields.get("pid") if running else None)
    if Path(settings.database).exists():
        figures = store_figures(app.state)
        # A sync-state key the store does not have leaves the status file's value.
        doc.update({k: v for k, v in figures.items() if v is not None or k not in (*_STATE_FIELDS, "last_error")})
    doc.update(_linking(app))
    doc["reconcile_summary"] = reconcile_summary(doc)
    paused = app.psa_paused_by()
    doc["psa_backend"] = settings.psa_backend
    doc["psa_paused_by"] = str(paused) if paused else None
    doc["inventory_files"] = _inventory_files(settings)
    found = reports.list_reports(folder)
    doc["error_reports"] = len(found)
    doc["latest_error_report"] = found[0].name if found else None
    primary = {"instance_id": settings.instance_id, "section": "Continuum", "backend": settings.rmm_backend,
               **{key: doc.get(key) for key in (*_RMM_FIELDS, "status_file", "inventory_files", "unlinked_sites")}}
    doc["rmms"] = [primary, *(_instance_status(instance) for instance in app.instances)]
    return doc


#: The fields each RMM has of its own, for the list of RMMs (``rmms``) when several run in one agent.
_RMM_FIELDS = ("last_inventory_refresh", "inventory_sites", "inventory_devices", "inventory_changes", "activation",
               "last_queue_poll", "queue_cursor", "last_error", "outage_since", "failing_since")


def _instance_status(instance: Any) -> dict[str, Any]:
    """An extra RMM's own fields: its status file (``ZenithStatus_<its InstanceID>.xml``) brought up to
    date from its keys in the store, its inventory files and its unlinked sites."""
    settings = instance.settings
    path = status_path(settings.dbsys_folder, settings.instance_id)
    doc: dict[str, Any] = {"instance_id": settings.instance_id, "section": instance.instance.section,
                           "backend": settings.rmm_backend, "status_file": str(path), **dict.fromkeys(_RMM_FIELDS)}
    if path.exists():
        try:
            fields = read_status(path)
        except (OSError, ValueError):
            pass
        else:
            doc.update({k: v for k, v in fields.items() if k in _RMM_FIELDS})
    if Path(settings.database).exists():
        figures = store_figures(instance.state)
        doc.update({k: v for k, v in figures.items() if k in _RMM_FIELDS and (v is not None or k == "outage_since")})
    doc["inventory_files"] = _inventory_files(settings)
    doc["unlinked_sites"] = _linking(instance)["unlinked_sites"]
    return doc


def _linking(app: Any) -> dict[str, Any]:
    from agent.sync.unlinked import unlinked_sites

    settings = app.settings
    found = unlinked_sites(settings, app.state) if Path(settings.database).is_file() else None
    return {"unlinked_sites": found.count if found else None,
            "inventory_site_count": found.sites if found else None,
            "unlinked_warning": found.sentence(queue_on=bool(settings.process_queue))
            if found and found.count else None}


def _inventory_files(settings: Settings) -> dict[str, Any]:
    from dbsys.inventory import inventory_path

    files: dict[str, Any] = {}
    for kind in ("sites", "devices"):
        path = inventory_path(settings, kind)
        try:
            generated, count = cmt.inventory_header(path)
        except (OSError, ValueError):
            files[kind] = None
        else:
            files[kind] = {"file": path.name, "generated": generated, "count": count}
    return files
