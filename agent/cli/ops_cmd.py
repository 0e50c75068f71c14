"""Operations: ``status``, ``errors``, ``requests`` and ``audit``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from agent.cli.options import json_option
from agent.cli.output import emit_json, table
from agent.cli.readonly import read_only
from agent.errors import CheckFailed, NotFoundError, UsageError
from agent.runtime.status import gather_status


# -- status ----------------------------------------------------------------------------------
@click.command("status")
@click.option("--check", is_flag=True,
              help="For monitoring: exit 1 when no agent is running for this Dbsys folder (the status is printed "
                   "either way). Without it, status exits 0, running or not.")
@json_option
@click.pass_obj
@read_only
def status(app, check: bool, as_json: bool) -> None:
    """Is the agent running; last inventory refresh, queue, outbox, requests, last error."""
    doc = gather_status(app)
    if as_json:
        emit_json(doc)
    else:
        table(f"zenithlink — {'running (pid ' + str(doc['pid']) + ')' if doc['running'] else 'NOT running'}",
              ["field", "value"], _status_rows(doc))
        if len(doc["rmms"]) > 1:
            table("RMMs (the fields above are the primary's, of [Continuum])",
                  ["RMM", "InstanceID", "backend", "inventory", "answers", "last error"], _rmm_rows(doc["rmms"]))
    if check and not doc["running"]:
        raise CheckFailed(f"No zenithlink agent is running for the Dbsys folder {doc['dbsys_folder']}; start it "
                          "with 'zenithlink run', or as the system service ('zenithlink service install').",
                          code="NotRunning")


def _status_rows(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    inv = doc["inventory_files"]
    files = ", ".join(f"{k}: {v['count']} ({v['generated']})" if v else f"{k}: missing" for k, v in inv.items())
    rows = [
        ("Dbsys folder", doc["dbsys_folder"]),
        ("status file", doc["status_file"] if doc["status_file_found"] else "not written yet"),
        ("started / updated", f"{doc['started_at'] or '-'} / {doc['updated_at'] or '-'}"),
        ("activation", _activation(doc)),
        ("last inventory refresh", _or_never(doc["last_inventory_refresh"])),
        ("inventory found", f"{_n(doc['inventory_sites'])} sites, {_n(doc['inventory_devices'])} devices"),
        ("inventory changes", doc["inventory_changes"] or "-"),
        ("inventory files", files),
        ("queue", "ON (tickets are created)" if doc["process_queue"] else "off (inventory and links only)"),
        ("sites linked", _linked(doc)),
        ("Continuum", _reachability(doc)),
        ("last queue poll", _or_never(doc["last_queue_poll"])),
        ("queue cursor", doc["queue_cursor"] or "-"),
        ("outbox", f"{_n(doc['outbox_depth'])} waiting, oldest {doc['outbox_oldest'] or '-'}"),
        ("requests", f"{_n(doc['requests_done'])} done, {_n(doc['requests_failed'])} failed"),
        ("PSA", f"{doc['psa_backend']}" + (f": writes PAUSED while {doc['psa_paused_by']} exists (RangerMSP "
                                           "maintenance); they go on by themselves when it goes"
                                           if doc["psa_paused_by"] else "")),
        ("reconciliation", f"{doc['reconcile_summary']}, last {doc['reconcile_last_run']}"
                           if doc["reconcile_summary"] else "never (a snapshot RMM's alert tickets only)"),
        ("error reports", f"{doc['error_reports']}, latest {doc['latest_error_report'] or '-'}"),
        ("last error", doc["last_error"] or "-"),
    ]
    if doc["status_file_problem"]:
        rows.insert(2, ("status file problem", doc["status_file_problem"]))
    return rows


def _rmm_rows(rmms: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """One row per RMM of the agent: the primary of [Continuum], then each [RMM:<name>]."""
    return [(f"[{r['section']}]", r["instance_id"], r["backend"],
             f"{_n(r['inventory_sites'])} sites, {_n(r['inventory_devices'])} devices, "
             f"last {_or_never(r['last_inventory_refresh'])}", _reachability(r).split(";")[0],
             r["last_error"] or "-") for r in rmms]


def _linked(doc: dict[str, Any]) -> str:
    if doc["unlinked_sites"] is None:
        return "? (no inventory yet)"
    linked = f"{doc['inventory_site_count'] - doc['unlinked_sites']} of {doc['inventory_site_count']}"
    return f"{linked}: {doc['unlinked_warning']}" if doc["unlinked_warning"] else linked


def _activation(doc: dict[str, Any]) -> str:
    if doc["activation"] == "pending":
        return f"PENDING since {doc.get('activation_pending_since') or '?'} (Continuum can take up to 24 hours)"
    if doc["activation"] == "refused":
        return "REFUSED: Continuum does not accept the PSG (see 'zenithlink docs troubleshooting')"
    return doc["activation"] or "unknown (no inventory refresh yet)"


def _reachability(doc: dict[str, Any]) -> str:
    if doc["outage_since"]:
        return (f"NOT ANSWERING since {doc['outage_since']}; the agent keeps trying, see the last error "
                "('zenithlink docs troubleshooting')")
    if doc.get("failing_since"):
        return (f"not answering since {doc['failing_since']} (not an outage yet); the agent keeps trying, "
                "see the last error")
    return "no outage"


def _or_never(value: Any) -> str:
    return str(value) if value else "never"


def _n(value: Any) -> str:
    return "?" if value is None else str(value)


# -- errors ----------------------------------------------------------------------------------
@click.group("errors", invoke_without_command=True)
@json_option
@click.pass_context
def errors(ctx: click.Context, as_json: bool) -> None:
    """The error reports in <DbsysFolder>/ZenithErrors (default: list them)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(errors_list, as_json=as_json)


@errors.command("list")
@json_option
@click.pass_obj
@read_only
def errors_list(app, as_json: bool) -> None:
    """List the error reports, newest first."""
    from dbsys import reports

    found = reports.list_reports(app.settings.dbsys_folder)
    if as_json:
        emit_json([{"name": r.name, "at": r.at, "kind": r.kind, "what": r.what} for r in found])
        return
    table(f"Error reports in {reports.reports_folder(app.settings.dbsys_folder)}", ["name", "at", "kind", "what"],
          [(r.name, r.at, r.kind, r.what) for r in found])


@errors.command("show")
@click.argument("name")
@json_option
@click.pass_obj
@read_only
def errors_show(app, name: str, as_json: bool) -> None:
    """Show one error report: what failed, when, the error and what to do."""
    from dbsys import reports

    try:
        report = reports.read_report(app.settings.dbsys_folder, name)
    except FileNotFoundError as exc:
        raise NotFoundError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if as_json:
        emit_json(report)
        return
    rows = [("report", report["name"]), ("at", report["at"]), ("kind", report["kind"]), ("what", report["what"]),
            ("error", report["error"]), ("to do", report["todo"])]
    rows += [(f"  {k}", v) for k, v in report["details"].items()]
    table(None, ["field", "value"], rows)


# -- requests --------------------------------------------------------------------------------
@click.command("requests")
@click.option("--failed", is_flag=True, help="Only the requests that failed.")
@json_option
@click.pass_obj
@read_only
def requests_cmd(app, failed: bool, as_json: bool) -> None:
    """Request drops and their results, newest first."""
    rows = gather_requests(app, failed_only=failed)
    if as_json:
        emit_json(rows)
        return
    table("Failed requests" if failed else "Requests", ["id", "action", "user", "status", "received", "result"],
          [(r["id"], r["action"], r["user"], r["status"], r["received_at"],
            r["continuum_ticket_id"] or (f"{r['error_code']}: {r['error_message']}" if r["error_code"] else ""))
           for r in rows])


def gather_requests(app, *, failed_only: bool = False) -> list[dict[str, Any]]:
    """The store's request inbox joined with the ``Results/`` files (a bad drop may have only a result)."""
    from dbsys.results import list_results

    by_id: dict[str, dict[str, Any]] = {}
    if Path(app.settings.database).exists():
        for r in app.state.list_requests():
            by_id[r["request_id"]] = {
                "id": r["request_id"], "action": r["action"], "user": r["user"], "status": r["status"],
                "received_at": r["received_at"], "finished_at": r["finished_at"],
                "continuum_ticket_id": r["continuum_ticket_id"], "error_code": r["error_code"],
                "error_message": r["error_message"], "filename": r["filename"], "result_file": None}
    # A drop without a readable id is kept by its file; its result is named after the file.
    by_file = {Path(r["filename"]).stem: r for key, r in by_id.items() if key.startswith("file:") and r["filename"]}
    for res in list_results(Path(app.settings.requests_folder) / "Results"):
        row = by_id.get(res["id"]) or by_file.get(Path(res["file"]).stem)
        if row is None:
            by_id[res["id"]] = {
                "id": res["id"], "action": res["action"], "user": "", "status": res["status"],
                "received_at": res["at"], "finished_at": res["at"] if res["status"] != "Queued" else None,
                "continuum_ticket_id": res["continuum_ticket_id"], "error_code": res["error_code"],
                "error_message": res["error_message"], "filename": None, "result_file": res["file"]}
        else:
            row["result_file"] = res["file"]
    rows = sorted(by_id.values(), key=lambda r: (r["received_at"] or "", r["id"]), reverse=True)
    return [r for r in rows if r["status"] == "Failed"] if failed_only else rows


# -- audit -----------------------------------------------------------------------------------
@click.command("audit")
@click.option("--since", default=None, metavar="WHEN",
              help="Only entries at or after this time: a date (2026-12-01), a date and time "
                   "(2026-12-01T09:30, UTC), or an age (30m, 12h, 7d).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True,
              help="At most this many entries, newest first.")
@json_option
@click.pass_obj
@read_only
def audit(app, since: str | None, limit: int, as_json: bool) -> None:
    """Who changed what through the agent (links, accounts, reviews, employees), newest first."""
    start = _since(since) if since else None
    rows = app.state.audit_log(limit, since=start) if Path(app.settings.database).is_file() else []
    if as_json:
        emit_json(rows)
        return
    table("Audit log" + (f" since {start}" if start else ""), ["at", "who", "action", "detail"],
          [(r["at"], r["who"] or "-", r["action"], r["detail"]) for r in rows])


def _since(text: str) -> str:
    """``WHEN`` of ``--since`` as a stored time."""
    from datetime import datetime, timedelta, timezone

    from agent.ports.times import stored_time

    text = text.strip()
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if text[:-1].isdigit() and text[-1:].lower() in units:
        return stored_time(datetime.now(timezone.utc) - timedelta(**{units[text[-1].lower()]: int(text[:-1])}))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r} is neither a date (2026-12-01), a date and time (2026-12-01T09:30) "
                         "nor an age (30m, 12h, 7d)") from None
    return stored_time(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))


commands = [status, errors, requests_cmd, audit]
