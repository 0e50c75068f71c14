"""The App builds the backends the INI names, through the backend hooks, once."""

from __future__ import annotations

import threading

import pytest

from agent import logs
from agent.app import App
from agent.backends.memory import MemoryPsa
from agent.errors import ConfigError
from agent.hookspecs import hookimpl


def write_ini(tmp_path, backend: str):
    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text(f"[RangerMSP]\nDbsysFolder=Dbsys\nBackend={backend}\n", encoding="utf-8")
    return ini


def test_the_ini_names_the_psa_backend(tmp_path):
    app = App(write_ini(tmp_path, "memory"))
    try:
        assert isinstance(app.psa, MemoryPsa) and app.psa is app.psa
        rec = app.psa.add_account("Acme")
        assert app.psa_view.get_account(rec).name == "Acme"
    finally:
        app.close()


def test_an_unknown_backend_is_a_configuration_error_that_lists_the_known_ones(tmp_path):
    app = App(write_ini(tmp_path, "rangermsp-typo"))
    try:
        with pytest.raises(ConfigError) as caught:
            app.psa  # noqa: B018 - opening it is what is tested
        assert caught.value.exit_code == 2
        assert "rangermsp-typo" in caught.value.message and "embedded" in caught.value.message
        assert "memory" in caught.value.message
    finally:
        app.close()


class ThirdParty:
    def __init__(self) -> None:
        self.built = 0

    @hookimpl
    def zenith_psa_backends(self):
        return {"acme-psa": self.build}

    def build(self, settings, state):
        self.built += 1
        return MemoryPsa()


def test_a_plugin_adds_a_backend_and_concurrent_first_uses_build_it_once(tmp_path):
    plugin = ThirdParty()
    app = App(write_ini(tmp_path, "ACME-PSA"), extra_plugins=[("acme", plugin)])
    try:
        start = threading.Barrier(8)
        seen = []

        def use():
            start.wait()
            seen.append(app.psa)

        threads = [threading.Thread(target=use) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert plugin.built == 1 and len({id(p) for p in seen}) == 1
    finally:
        app.close()


def test_two_plugins_offering_one_name_is_refused(tmp_path):
    app = App(write_ini(tmp_path, "memory"), extra_plugins=[("twin", _Twin())])
    try:
        with pytest.raises(ConfigError, match="two plugins offer a backend named 'memory'"):
            app.psa  # noqa: B018 - opening it is what is tested
    finally:
        app.close()


class _Twin:
    @hookimpl
    def zenith_psa_backends(self):
        return {"memory": lambda settings, state: MemoryPsa()}


def test_redaction_while_secrets_are_added_never_fails():
    stop = threading.Event()

    def add():
        n = 0
        while not stop.is_set() and n < 500:  # few: the secrets stay for the rest of the run
            logs.add_secret(f"secret-{n:06d}")
            n += 1

    adder = threading.Thread(target=add)
    adder.start()
    try:
        for _ in range(3000):
            logs.redact("nothing secret here")
    finally:
        stop.set()
        adder.join()
    assert logs.redact("it was secret-000000") == f"it was {logs.REDACTED}"


def _older_store(path, steps: int) -> None:
    import sqlite3

    from agent.backends.embedded.migrations import MIGRATIONS

    conn = sqlite3.connect(path)
    for step, script in enumerate(MIGRATIONS[:steps], start=1):
        conn.executescript(script)
        conn.execute(f"PRAGMA user_version={step}")
    conn.commit()
    conn.close()


def test_a_command_does_not_migrate_the_store_under_a_running_older_service(tmp_path):
    from agent.backends.embedded.migrations import MIGRATIONS
    from agent.errors import StoreError
    from agent.runtime.lock import FolderLock

    ini = write_ini(tmp_path, "embedded")
    dbsys = tmp_path / "Dbsys"
    dbsys.mkdir()
    _older_store(dbsys / "zenithlink.sqlite3", 5)
    service = FolderLock(dbsys)
    service.acquire()  # an older agent runs on this folder
    app = App(ini)
    try:
        with pytest.raises(StoreError, match="schema 5, older than") as caught:
            app.state  # noqa: B018 - opening it is what is tested
        assert "Upgrade and restart that service first" in caught.value.message
    finally:
        service.release()
        app.close()
    app = App(ini)  # no service any more: the command migrates
    try:
        assert app.state.schema_version == len(MIGRATIONS)
    finally:
        app.close()


def test_a_secret_that_holds_other_secrets_is_redacted_whole():
    """An API key that holds a PSG (or any shorter secret) is replaced whole, whatever order the
    secrets were learnt in; ten shorter ones make a wrong order all but certain to show."""
    whole = "zl-test-0123456789-whole-secret"
    for end in range(len(whole) - 10, len(whole)):
        logs.add_secret(whole[3:end])
    logs.add_secret(whole)
    assert logs.redact(f"apikey={whole}&x=1") == f"apikey={logs.REDACTED}&x=1"
