"""``zenithlink reconcile``: what a missed poll, a lost ticket or a changed link left behind."""

from __future__ import annotations

import click

from agent.cli.options import json_option
from agent.cli.output import done, emit_json, table
from agent.sync.alerts.kept import keep
from agent.sync.alerts.lifecycle import policy_from, skip_rule
from agent.sync.alerts.reconcile import FIXABLE, reconcile


@click.command("reconcile")
@click.option("--fix", is_flag=True, help="Fix what is safe to fix: tell tickets of recoveries the agent missed, "
                                          "close alert tickets whose PSA ticket is gone.")
@json_option
@click.pass_obj
def reconcile_cmd(app, fix: bool, as_json: bool) -> None:
    """Compare an alert RMM's failing checks or open alerts (N-sight, NinjaOne) with the PSA's tickets and links."""
    findings = reconcile(state=app.state, psa=app.psa, rmm=app.alert_rmm, policy=policy_from(app.settings),
                         skip=skip_rule(app.pm, app.settings), fix=fix)
    keep(app.state, findings)  # 'zenithlink status' shows the last reconciliation, by hand or by the service
    if as_json:
        emit_json({"findings": [f.as_dict() for f in findings], "fixed": sum(f.fixed for f in findings)})
        return
    table("Reconciliation", ["kind", "device", "check", "site", "fixed", "detail"],
          [[f.kind, f.device_id, f.check, f.site_code, "yes" if f.fixed else "", f.detail] for f in findings])
    fixable = sum(f.kind in FIXABLE and not f.fixed for f in findings)
    if fixable:
        done(f"{fixable} can be fixed safely: run 'zenithlink reconcile --fix'.")


commands = [reconcile_cmd]
