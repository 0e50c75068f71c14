"""Shared fixtures: an INI in a temp folder, and the CLI run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_PSG = "PSG-test-5ecret-9f3a"


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(args: list[str], *, config: Path | None = None, user: str | None = None, timeout: float = 60,
            env: dict | None = None) -> CliResult:
    """Run ``zenithlink`` as a subprocess, like a script or the PSA side would."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1", COLUMNS="200")
    full_env.pop("ZENITHLINK_USER", None)
    full_env.pop("ZENITHLINK_CONFIG", None)
    full_env.update(env or {})
    argv = [sys.executable, "-c", "from agent.cli import main; main()"]
    if config is not None:
        argv += ["--config", str(config)]
    if user is not None:
        full_env["ZENITHLINK_USER"] = user
    proc = subprocess.run(argv + args, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=ROOT)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def write_ini(folder: Path, text: str = "", *, url: str = "", psg: str = TEST_PSG) -> Path:
    """An INI whose Dbsys folder is inside ``folder``; ``text`` adds or overrides sections."""
    path = folder / "CmtZenithLink.ini"
    base = f"[Continuum]\nPSG={psg}\nContinuumURL={url or 'http://127.0.0.1:9'}\n"
    path.write_text(base + text)
    return path


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


@pytest.fixture
def ini(tmp_path) -> Path:
    return write_ini(tmp_path)
