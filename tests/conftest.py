"""Shared fixtures: an INI in a temp folder, the CLI run as a real subprocess, ``wait_for``, and
the checks that no process or thread outlives its test."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_PSG = "PSG-test-5ecret-9f3a"

# Hermetic: plugins installed in this environment (entry points) are not loaded, here or in the
# CLI subprocesses (they inherit the environment); a test that wants them sets the variable to "".
os.environ["ZENITHLINK_NO_ENTRY_POINTS"] = "1"

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, message: str = "the condition", *,
             interval: float = 0.02) -> T:
    """Poll ``predicate`` until it returns something true and return that; fail the test after
    ``timeout`` seconds, naming ``message``. Timeouts are generous: they bound a failing test, a
    passing one returns as soon as the condition holds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(args: list[str], *, config: Path | None = None, user: str | None = None, timeout: float = 60,
            env: dict | None = None, encoding: str | None = None) -> CliResult:
    """Run ``zenithlink`` as a subprocess, like a script or the PSA side would; its output is
    decoded with ``encoding`` (default: the locale's, as a reader on this system would)."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1", COLUMNS="200")
    full_env.pop("ZENITHLINK_USER", None)
    full_env.pop("ZENITHLINK_CONFIG", None)
    full_env.update(env or {})
    argv = [sys.executable, "-c", "from agent.cli import main; main()"]
    if config is not None:
        argv += ["--config", str(config)]
    if user is not None:
        full_env["ZENITHLINK_USER"] = user
    proc = subprocess.run(argv + args, capture_output=True, text=True, encoding=encoding, timeout=timeout,
                          env=full_env, cwd=ROOT)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def write_ini(folder: Path, text: str = "", *, url: str = "", psg: str = TEST_PSG) -> Path:
    """An INI whose Dbsys folder is inside ``folder``; ``text`` adds or overrides sections."""
    path = folder / "CmtZenithLink.ini"
    base = f"[Continuum]\nPSG={psg}\nContinuumURL={url or 'http://127.0.0.1:9'}\n"
    path.write_text(base + text)
    return path


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked ``posix`` are skipped on Windows (the Windows workflow runs everything else)."""
    if os.name != "nt":
        return
    skip = pytest.mark.skip(reason="needs POSIX (signals, shell scripts, systemd or symlinks)")
    for item in items:
        if "posix" in item.keywords:
            item.add_marker(skip)


_spawned: list[subprocess.Popen] = []


def track(proc: subprocess.Popen) -> subprocess.Popen:
    """Remember a child process so that it is killed when the test ends, even if the test fails."""
    _spawned.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test():
    yield
    while _spawned:
        proc = _spawned.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _thread_key(thread: threading.Thread) -> tuple[int | None, str]:
    return thread.ident, thread.name


# Threads that are process-wide by design and may outlive the test that first started them:
# asyncio's default executor and concurrent.futures workers are pooled by the stdlib, and
# watchdog's observer emitters belong to an observer the test has stopped (they exit shortly).
_GLOBAL_THREAD_PREFIXES = ("asyncio_", "ThreadPoolExecutor-")


@pytest.fixture(autouse=True)
def _no_thread_outlives_its_test():
    before = {_thread_key(t) for t in threading.enumerate()}
    yield

    def leftovers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if _thread_key(t) not in before and t.is_alive()
                and not t.name.startswith(_GLOBAL_THREAD_PREFIXES)]

    try:
        # Under Wine a socket of a killed process can take seconds to close: more patience there.
        wait_for(lambda: not leftovers(), timeout=15.0 if os.name == "nt" else 5.0,
                 message="the test's threads to end")
    except AssertionError:
        names = ", ".join(f"{t.name} (daemon={t.daemon})" for t in leftovers())
        pytest.fail(f"threads still running after the test: {names}", pytrace=False)


@pytest.fixture
def ini(tmp_path) -> Path:
    return write_ini(tmp_path)


def psa_backend() -> str:
    """The PSA backend the engine tests run on: ``embedded``, or the one ``ZENITHLINK_TEST_PSA`` names
    (``make test`` runs the engine suites once more on ``memory``)."""
    return os.environ.get("ZENITHLINK_TEST_PSA", "embedded")


def rmm_backend() -> str:
    """The RMM the engine tests run against: ``continuum``, or the one ``ZENITHLINK_TEST_RMM`` names
    (``nsight``, ``ninjaone``: ``make test`` runs the engine suites once more on each)."""
    return os.environ.get("ZENITHLINK_TEST_RMM", "continuum")
