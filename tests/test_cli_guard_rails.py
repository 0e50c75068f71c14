"""Guard rails while onboarding: the unlinked sites named wherever the queue is switched on and in
``status``, and ``audit``, the reader of the audit log."""

from __future__ import annotations

import json

from agent import logs

from test_links_cli import env, zl  # noqa: F401 - fixture

QUEUE_ON = "[Continuum]\nInstanceID=T1\nPSG=demo\nContinuumURL=http://127.0.0.1:9\nProcessContinuumUpdatesQueue={}\n" \
           "[RangerMSP]\nDbsysFolder=Dbsys\nDatabase=zenith.db\n"


def _queue(env, on: bool) -> None:  # noqa: F811
    env["ini"].write_text(QUEUE_ON.format("Y" if on else "N"), encoding="utf-8")


def test_check_config_with_the_queue_on_names_the_unlinked_sites(env):  # noqa: F811
    assert zl(env, "links", "link-site", "ACME-HQ", env["acme"], "--user", "admin").returncode == 0
    _queue(env, True)
    checked = zl(env, "check-config", "--offline", "--json")
    assert checked.returncode == 0, checked.stderr
    [warning] = [w for w in json.loads(checked.stdout)["warnings"] if "not linked" in w]
    assert warning.startswith("3 of 4 Continuum sites are not linked") and "ACME-BR" in warning
    assert "auto-created accounts" in warning
    _queue(env, False)
    quiet = json.loads(zl(env, "check-config", "--offline", "--json").stdout)
    assert not [w for w in quiet["warnings"] if "not linked" in w]  # the queue is off: nothing lands anywhere


def test_status_counts_the_linked_sites_and_warns_when_the_queue_is_on(env):  # noqa: F811
    _queue(env, True)
    doc = json.loads(zl(env, "status", "--json").stdout)
    assert (doc["unlinked_sites"], doc["inventory_site_count"]) == (4, 4)
    assert "auto-created accounts" in doc["unlinked_warning"]
    for code in ("ACME-HQ", "ACME-BR", "SMITH", "NW"):
        assert zl(env, "links", "link-site", code, env["acme"], "--user", "admin").returncode == 0
    shown = zl(env, "status")
    assert "4 of 4" in shown.stdout and "not linked" not in shown.stdout


def test_a_reload_that_switches_the_queue_on_warns_of_the_unlinked_sites(env):  # noqa: F811
    from agent.app import App
    from agent.runtime.service import Service

    _queue(env, False)
    app = App(env["ini"])
    try:
        service = Service(app)
        _queue(env, True)
        assert service.reload() is True  # the reload configures the log as the INI says: into Dbsys/Logs
        service.processor.close()
    finally:
        app.close()
        logs.configure("WARNING")
    seen = "".join(p.read_text(encoding="utf-8") for p in (env["folder"] / "Dbsys" / "Logs").glob("*.log"))
    assert "4 of 4 Continuum sites are not linked" in seen


def test_audit_lists_who_changed_what_newest_first_and_filters_by_time(env):  # noqa: F811
    assert zl(env, "links", "link-site", "ACME-HQ", env["acme"], "--user", "admin").returncode == 0
    assert zl(env, "links", "unlink-site", "ACME-HQ", "--user", "admin").returncode == 0
    rows = json.loads(zl(env, "audit", "--json").stdout)
    assert [r["action"] for r in rows[:2]] == ["unlink_site", "link_site"] and rows[0]["who"] == "admin"
    assert len(json.loads(zl(env, "audit", "--since", "1h", "--json").stdout)) == len(rows)
    assert json.loads(zl(env, "audit", "--since", "2099-01-01", "--json").stdout) == []
    assert len(json.loads(zl(env, "audit", "--limit", "1", "--json").stdout)) == 1
    bad = zl(env, "audit", "--since", "last tuesday")
    assert bad.returncode == 2 and "an age (30m, 12h, 7d)" in bad.stderr
    assert "link_site" in zl(env, "audit").stdout
