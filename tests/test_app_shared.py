"""What the workers of one App share is a named, typed attribute of the App, built once (under its
lock, on first use) and never shared with another App."""

from __future__ import annotations

import threading

import pytest

from agent.app import App

SHARED = ("outage", "outbox_pause", "request_file_locks", "suggestion_memos", "alert_snapshots_lock",
          "inventory_refresh_lock")


@pytest.fixture
def apps(tmp_path):
    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text("[RangerMSP]\nDbsysFolder=Dbsys\nBackend=memory\n", encoding="utf-8")
    built = [App(ini), App(ini)]
    yield built
    for app in built:
        app.close()


@pytest.mark.parametrize("name", SHARED)
def test_concurrent_first_uses_get_one_value(apps, name: str) -> None:
    app = apps[0]
    start = threading.Barrier(8)
    seen: list[object] = []

    def use() -> None:
        start.wait()
        seen.append(getattr(app, name))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(value) for value in seen}) == 1 and seen[0] is getattr(app, name)


@pytest.mark.parametrize("name", SHARED)
def test_each_app_has_its_own(apps, name: str) -> None:
    assert getattr(apps[0], name) is not getattr(apps[1], name)


def test_there_is_no_string_keyed_registry(apps) -> None:
    assert not hasattr(apps[0], "shared")
