"""The reconciliation pass the service runs now and then for a snapshot RMM (N-sight, NinjaOne).

It is ``zenithlink reconcile --fix``: what is safe to fix is fixed. What it found is kept in the
state store (counts per kind and when it ran: ``zenithlink status``, the web console), and what a
person must look at is written as an error report in the Dbsys folder, once per new set of
findings: a pass that finds the same ones again writes nothing more.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import TYPE_CHECKING

from loguru import logger

from agent.errors import ZenithError
from agent.reporting import report_failure
from agent.sync.alerts.kept import keep
from agent.sync.alerts.lifecycle import policy_from, skip_rule
from agent.sync.alerts.reconcile import Finding, reconcile

if TYPE_CHECKING:
    from agent.sync.engine_app import EngineApp

# The findings of the last error report, so that one set is reported once.
REPORTED_STATE = "reconcile_reported"
REPORT_KIND = "reconcile"


def reconcile_pass(app: EngineApp) -> list[Finding]:
    """One pass over the app's alert RMM with ``--fix``: its findings, kept and reported."""
    findings = reconcile(state=app.state, psa=app.psa, rmm=app.alert_rmm, policy=policy_from(app.settings),
                         skip=skip_rule(app.pm, app.settings), fix=True)
    keep(app.state, findings)
    to_look_at = [f for f in findings if not f.fixed]
    reported = _fingerprint(to_look_at)
    if reported != (app.state.get_state(REPORTED_STATE) or ""):
        if to_look_at:
            _report(app, to_look_at)
        app.state.set_state(REPORTED_STATE, reported)
    fixed = sum(f.fixed for f in findings)
    if fixed:
        logger.info("reconciliation: {} finding(s) fixed", fixed)
    return findings


def _fingerprint(findings: list[Finding]) -> str:
    if not findings:
        return ""
    seen = sorted(f"{f.kind}|{f.device_id}|{f.check}|{f.site_code}|{f.ticket_rec_id}" for f in findings)
    return hashlib.sha256("\n".join(seen).encode("utf-8")).hexdigest()[:32]


def _report(app: EngineApp, findings: list[Finding]) -> None:
    counts = Counter(f.kind for f in findings)
    what = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    report_failure(app, REPORT_KIND, "the reconciliation of the alert RMM found what a person must look at",
                   ZenithError(f"{len(findings)} finding(s): {what}"),
                   todo=_todo(counts), data={f"{f.kind} {f.device_id} {f.check}": f.detail for f in findings})


def _todo(counts: Counter[str]) -> str:
    steps = []
    if counts.get("unticketed") or counts.get("site-unlinked"):
        steps.append("link the sites named below to their accounts (web console, Sites)")
    if counts.get("account-changed"):
        steps.append("move each ticket named below to the account its site is now linked to, if it belongs there")
    said = "; ".join(steps) or "look at the findings below"
    return f"{said[0].upper()}{said[1:]}. 'zenithlink reconcile' lists what is still found."
