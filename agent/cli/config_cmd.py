"""``check-config`` and ``init``: the INI, validated and explained."""

from __future__ import annotations

from pathlib import Path

import click

from agent.app import load_for_service
from agent.cli.options import json_option
from agent.cli.output import done, emit_json, note, table
from agent.cli.readonly import read_only
from agent.errors import CheckFailed, ConfigError, UsageError, ZenithError
from config.template import render_reference, template_bytes


@click.command("check-config")
@json_option
@click.option("--ping/--no-ping", " /--offline", "ping", default=True,
              help="--offline (or --no-ping): judge the file alone, without trying the connection to the RMM; "
                   "otherwise a failed connection check exits 1.")
@click.option("--reference", is_flag=True, help="Print the INI reference (every key) and exit.")
@click.pass_obj
@read_only
def check_config(app, as_json: bool, ping: bool, reference: bool) -> None:
    """Judge the INI as 'run' does, then try the connection to the RMM (exit 1 when it fails, unless
    --offline); print the effective settings, or every problem (exit 2)."""
    if reference:
        click.echo(render_reference(), nl=False)
        return
    try:
        settings = load_for_service(app.config_path)
    except ZenithError as exc:
        if as_json:
            problems = exc.problems if isinstance(exc, ConfigError) else [exc.message]
            emit_json({"valid": False, "path": str(app.config_path), "problems": problems})
        raise
    connection = _ping(app, settings) if ping else None
    # Each extra RMM ([RMM:<name>]) is tried too, once: the service needs every one of them.
    extra = [{"instance_id": i.instance_id, **_ping_configured_rmm(i)} for i in app.instances] if ping else []
    warnings = [*settings.warnings, *_unlinked_warning(app, settings)]
    if as_json:
        emit_json({"valid": True, "path": str(app.config_path), "warnings": warnings,
                   "settings": [{"section": s, "key": k, "value": v} for s, k, v in settings.summary()],
                   "connection": connection, "rmm_connections": extra})
    else:
        table(f"Effective settings of {app.config_path}", ["section", "key", "value"], settings.summary())
        for warning in warnings:
            note(warning, label="warning:", style="yellow")
        if connection is None:
            note("(the connection to the RMM was not checked: --offline).", label="The configuration is valid",
                 style="green")
        elif connection["ok"]:
            note(connection["message"], label=f"{connection.get('rmm', 'Continuum')}:", style="green")
            note(label="The configuration is valid.", style="green")
        else:
            done("The file is valid, but the connection check failed (see below).")
        for tried in extra:
            note(tried["message"], label=f"{tried.get('rmm', tried['instance_id'])}:",
                 style="green" if tried["ok"] else "red")
    failed = [c for c in ([connection] if connection is not None else []) + extra if not c["ok"]]
    if failed:
        reasons = "; ".join(f"{c.get('rmm') or c.get('instance_id') or 'Continuum'}: {c['message'].rstrip('.')}"
                            if "instance_id" in c else c["message"].rstrip(".") for c in failed)
        raise CheckFailed(f"The connection check failed: {reasons}; pass --offline to judge the file alone.",
                          code="Unreachable")


def _unlinked_warning(app, settings) -> list[str]:
    """With the queue on, the sites whose tickets would land in auto-created accounts (read only:
    a store that does not exist yet is not made here)."""
    from agent.sync.unlinked import unlinked_sites

    if not settings.process_queue or not Path(settings.database).is_file():
        return []
    found = unlinked_sites(settings, app.state)
    return [found.sentence(queue_on=True)] if found and found.count else []


def _ping(app, settings) -> dict:
    from agent.backends.continuum.client import ContinuumClient
    from agent.backends.continuum.retry import RetryPolicy
    from agent.errors import describe

    if str(settings.rmm_backend).lower() != "continuum":
        return _ping_configured_rmm(app)
    try:
        # One quick try: a person is waiting, and the service retries for real.
        with ContinuumClient.from_settings(settings, retry=RetryPolicy(max_attempts=1)) as client:
            pong = client.ping()
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none is fatal here
        return {"ok": False, "message": describe(exc)}
    state = "activated" if pong.activated else "not activated yet"
    return {"ok": True, "message": f"reached, partner {pong.partner}, {state}", "partner": pong.partner,
            "activated": pong.activated}


def _ping_configured_rmm(app) -> dict:
    """The connection check of another RMM backend (N-sight, NinjaOne): its own client, one ping."""
    from agent.errors import describe
    from agent.ports.rmm import capabilities_of

    try:
        client = app.rmm
        rmm = capabilities_of(client).rmm
        pong = client.ping()
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none is fatal here
        return {"ok": False, "message": describe(exc)}
    return {"ok": True, "rmm": rmm, "message": f"reached, {pong.partner}", "partner": pong.partner,
            "activated": pong.activated}


@click.command("init")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_obj
def init(app, path: Path | None, force: bool) -> None:
    """Write the INI template (every key, its default and a comment) to PATH."""
    from dbsys.atomic import atomic_write
    from dbsys.host import OWNER_ONLY

    target = path or app.config_path
    if target.exists() and not force:
        raise UsageError(f"{target} exists already; pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, template_bytes(), mode=OWNER_ONLY)  # it will hold the PSG
    done(f"Wrote {target}. Set PSG and ContinuumURL, then run 'zenithlink --config {target} check-config'.")


commands = [check_config, init]
