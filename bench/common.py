"""Shared helpers for the benchmarks: a figures table, a peak-RSS probe, a sandbox in its own process."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx


@dataclass
class Row:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    target: str = ""
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if not self.baseline or not self.value:
            return None
        return self.value / self.baseline if self.higher_is_better else self.baseline / self.value


@dataclass
class Table:
    """Figures of one benchmark; ``ratio`` is >1 when the measured figure beats the baseline."""

    title: str
    rows: list[Row] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str, *, baseline: float | None = None,
            target: str = "", higher_is_better: bool = True) -> None:
        self.rows.append(Row(name, value, unit, baseline, target, higher_is_better))

    def print(self, out=sys.stdout) -> None:
        print(f"\n== {self.title}", file=out)
        print(f"{'figure':<44} {'value':>12} {'unit':<8} {'baseline':>12} {'ratio':>7}  target", file=out)
        for r in self.rows:
            base = f"{r.baseline:12.3f}" if r.baseline is not None else f"{'-':>12}"
            ratio = f"{r.ratio:7.2f}" if r.ratio is not None else f"{'-':>7}"
            print(f"{r.name:<44} {r.value:12.3f} {r.unit:<8} {base} {ratio}  {r.target}", file=out)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB); 0 where the
    platform has no ``resource`` module (Windows), so the benchmarks still run there."""
    try:
        import resource
    except ImportError:
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


class RemoteSandbox:
    """The sandbox Continuum in a process of its own, as the real one is on another machine.

    Its CPU then does not compete with the agent's for this process's interpreter lock, and a
    pipelined agent can overlap its own work with the server's. ``admin`` calls the sandbox's
    ``/sandbox/`` endpoints (JSON in, JSON out).
    """

    def __init__(self, *, psg: str = "demo", seed: int = 1, sites: int = 50, devices: int = 2000) -> None:
        self._args = ["sandbox", "--port", "0", "--psg", psg, "--seed", str(seed), "--sites", str(sites),
                      "--devices", str(devices), "--tickets", "0"]
        self.url = ""
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> RemoteSandbox:
        code = "import sys; from agent.cli import main; main(sys.argv[1:])"
        self._proc = subprocess.Popen([sys.executable, "-c", code, *self._args], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True)
        self.url = (self._proc.stdout.readline() if self._proc.stdout else "").strip()
        if not self.url.startswith("http"):
            self.__exit__()
            raise RuntimeError("the sandbox process did not start; run 'zenithlink sandbox --port 0' to see why")
        return self

    def admin(self, method: str, path: str, body: dict | None = None):
        answer = httpx.request(method, f"{self.url}/sandbox{path}", json=body, timeout=60)
        answer.raise_for_status()
        return answer.json()

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None
