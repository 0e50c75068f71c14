"""Serving the console: where it may listen (D10), uvicorn in a thread, ``web``, ``run`` and ``set-password``."""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import sys
from types import SimpleNamespace

import httpx
import pytest

from agent.errors import ConfigError
from agent.sandbox import SandboxServer
from agent.web.auth import verify_password
from agent.web.server import WebServer, resolve_listen
from dbsys.status import status_path

from conftest import ROOT, TEST_PSG, run_cli, track, wait_for, write_ini
from test_web_support import PASSWORD, cheap_hasher, console  # noqa: F401 - fixture


def settings(**values):
    base = {"web_listen": "127.0.0.1:8470", "web_cert_file": None, "web_key_file": None,
            "web_allow_plain_http": False}
    return SimpleNamespace(**{**base, **values})


def test_loopback_is_served_in_plain_http():
    listen = resolve_listen(settings())
    assert (listen.host, listen.port, listen.tls) == ("127.0.0.1", 8470, False)
    assert resolve_listen(settings(), "[::1]:9000").url() == "http://[::1]:9000"
    assert resolve_listen(settings(), "localhost:9000").host == "localhost"


def test_beyond_loopback_without_tls_is_refused_with_a_config_error():
    with pytest.raises(ConfigError) as refused:
        resolve_listen(settings(web_listen="0.0.0.0:8470"))
    assert refused.value.exit_code == 2
    assert "beyond loopback" in refused.value.message and "CertFile and KeyFile" in refused.value.message
    assert resolve_listen(settings(web_listen="0.0.0.0:8470", web_allow_plain_http=True)).host == "0.0.0.0"


def test_tls_needs_both_files_and_they_must_exist(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(ConfigError, match="go together"):
        resolve_listen(settings(web_listen="10.0.0.5:443", web_cert_file=cert))
    with pytest.raises(ConfigError, match="no such file"):
        resolve_listen(settings(web_listen="10.0.0.5:443", web_cert_file=cert, web_key_file=tmp_path / "k.pem"))
    key = tmp_path / "key.pem"
    key.write_text("x")
    assert resolve_listen(settings(web_listen="10.0.0.5:443", web_cert_file=cert, web_key_file=key)).tls


def test_a_bad_listen_value_is_an_ini_problem(tmp_path):
    ini = write_ini(tmp_path, "[Web]\nListen=8470\n")
    answer = run_cli(["check-config"], config=ini)
    assert answer.code == 2 and "[Web] Listen" in answer.err


def test_the_web_command_refuses_to_listen_beyond_loopback_without_tls(tmp_path):
    ini = write_ini(tmp_path)
    answer = run_cli(["web", "--listen", "0.0.0.0:0"], config=ini)
    assert answer.code == 2
    assert "beyond loopback" in answer.err


def test_served_in_a_thread_and_stopped_cleanly(console):
    server = WebServer(console.app, resolve_listen(console.app.settings, "127.0.0.1:0"), hasher=cheap_hasher())
    url = server.start()
    try:
        answer = httpx.get(f"{url}/signin", timeout=5)
        assert answer.status_code == 200 and answer.headers["x-frame-options"] == "DENY"
    finally:
        server.stop()
    assert not server.thread.is_alive()


def test_a_port_in_use_is_said_so(console):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = WebServer(console.app, resolve_listen(console.app.settings, f"127.0.0.1:{port}"))
        with pytest.raises(Exception, match="cannot listen"):
            server.start()


def test_set_password_reads_stdin_and_the_password_then_works(tmp_path):
    ini = write_ini(tmp_path)
    assert run_cli(["employees", "add", "jo", "--group", "Limited"], config=ini).code == 0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-c", "from agent.cli import main; main()", "--config", str(ini)]
    done = subprocess.run(argv + ["employees", "set-password", "jo", "--password-stdin"], input=PASSWORD + "\n",
                          capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    for_admin = subprocess.run(argv + ["employees", "set-password", "jo", "--password-stdin", "--user", "admin"],
                               input=PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert for_admin.returncode == 0, for_admin.stderr
    short = subprocess.run(argv + ["employees", "set-password", "jo", "--password-stdin"], input="short\n",
                           capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    unknown = subprocess.run(argv + ["employees", "set-password", "nobody", "--password-stdin"], input=PASSWORD,
                             capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert unknown.returncode == 1 and "no employee" in unknown.stderr
    from agent.app import App

    app = App(ini)
    try:
        from argon2 import PasswordHasher

        assert verify_password(app, "jo", PASSWORD, PasswordHasher())["login"] == "jo"
        assert verify_password(app, "jo", "wrong password", PasswordHasher()) is None
        assert "$argon2id$" in app.state.web_password("jo")
        who = {row["who"] for row in app.state.audit_log() if row["action"] == "set_web_password"}
        server = f"server account {getpass.getuser()}"
        assert who == {server, f"admin, {server}"}  # the administrator on the server, not jo
    finally:
        app.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.posix  # a graceful SIGTERM
def test_run_serves_the_console_when_enabled_and_stops_it_with_the_service(tmp_path):
    with SandboxServer(psg=TEST_PSG, seed=3, sites=3, devices=6, tickets=0) as sandbox:
        port = _free_port()
        ini = write_ini(tmp_path, f"[Web]\nEnabled=Y\nListen=127.0.0.1:{port}\n", url=sandbox.url)
        env = dict(os.environ, PYTHONPATH=str(ROOT), ZENITHLINK_CONFIG=str(ini))
        proc = track(subprocess.Popen([sys.executable, "-c", "from agent.cli import main; main()", "run"], cwd=ROOT,
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))

        def signin_page() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/signin", timeout=2).status_code == 200
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                return False

        wait_for(signin_page, 30, "the console of 'run'")
        # SIGTERM is the service's to handle once its workers run (the status file says so).
        wait_for(lambda: status_path(tmp_path / "Dbsys", "RMAZenithINFOTECHID1").exists(), 30, "the status file")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/signin", timeout=2)


def test_the_console_built_leaves_what_lives_on_out_of_the_collectors_full_passes(console):  # noqa: F811
    import gc

    before = gc.get_freeze_count()
    WebServer(console.app, resolve_listen(console.app.settings, "127.0.0.1:0"), hasher=cheap_hasher())
    assert gc.get_freeze_count() > before  # the App and the console just built among them
