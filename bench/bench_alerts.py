"""Alert RMM polls: the failing checks of a large N-sight account turned into PSA tickets.

The sandbox N-sight (in this process, on its own threads) holds 10,000 devices with 2,000 failing
checks; every site is linked to an account. Measured, each the median of several runs, in CPU
seconds of the polling thread only (the sandbox's threads excluded):

- the baseline: a bare httpx GET of ``list_failing_checks`` parsed by lxml, its checks counted;
- the client's read of the same answer (safe parsing, one ``Alert`` per check);
- the first poll, which opens 2,000 tickets (also as alerts → tickets per second, wall clock);
- a steady poll, nothing changed, 2,000 tickets open (the poll the service repeats).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from lxml import etree

from agent.backends.embedded import EmbeddedPsa, StateStore
from agent.backends.nsight import NsightClient
from agent.sandbox.nsight import NsightSandbox, NsightWorld
from agent.sync.alerts import AlertLifecycle
from bench.common import Table, peak_rss_mb

RUNS = 3


def _cpu(job: Callable[[], object]) -> tuple[float, float, object]:
    """(CPU seconds of this thread, wall seconds, result) of one run of ``job``."""
    cpu, wall = time.thread_time(), time.perf_counter()
    result = job()
    return time.thread_time() - cpu, time.perf_counter() - wall, result


def _bare(http: httpx.Client, key: str) -> int:
    root = etree.fromstring(http.get("/api/", params={"apikey": key, "service": "list_failing_checks"}).content)
    return sum(1 for _ in root.iter("check"))


def _store(folder: Path, world: NsightWorld) -> tuple[StateStore, EmbeddedPsa]:
    state = StateStore(folder / "zenithlink.sqlite3")
    psa = EmbeddedPsa(state.db)
    with state.transaction():
        accounts = [psa.add_account(f"Customer {n}") for n in range(50)]
        for n, siteid in enumerate(world.sites):
            state.link_site(str(siteid), accounts[n % len(accounts)])
    return state, psa


def main(quick: bool) -> Table:
    devices, failing = (2_000, 400) if quick else (10_000, 2_000)
    world = NsightWorld(clients=20, sites=devices // 20, devices=devices, checks_per_device=1)
    for checkid in list(world.checks)[:failing]:
        world.fail(checkid, output="Disk space below threshold: 3% free")
    table = Table(f"N-sight alert poll: {devices} devices, {failing} failing checks")
    bare_cpu, client_cpu, first_cpu, first_wall, steady_cpu = [], [], [], [], []
    with NsightSandbox(world) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        for _ in range(RUNS):
            cpu, _wall, count = _cpu(lambda: _bare(http, world.api_key))
            assert count == failing
            bare_cpu.append(cpu)
            client = NsightClient(sandbox.url, world.api_key, min_poll_seconds=0)
            cpu, _wall, snapshot = _cpu(client.failing)
            assert len(snapshot.alerts) == failing  # type: ignore[attr-defined]
            client_cpu.append(cpu)
            with tempfile.TemporaryDirectory() as folder:
                state, psa = _store(Path(folder), world)
                lifecycle = AlertLifecycle(state=state, psa=psa, rmm=client)
                cpu, wall, outcome = _cpu(lifecycle.poll_once)
                assert outcome.raised == failing  # type: ignore[attr-defined]
                first_cpu.append(cpu)
                first_wall.append(wall)
                cpu, _wall, outcome = _cpu(lifecycle.poll_once)
                assert outcome.raised == outcome.repeated == 0  # type: ignore[attr-defined]
                steady_cpu.append(cpu)
                state.close()
            client.close_connection()
    bare = statistics.median(bare_cpu)
    table.add("CPU s: client reads the failing checks", statistics.median(client_cpu), "s",
              baseline=bare, higher_is_better=False, target="baseline: bare httpx + lxml")
    table.add("CPU s: steady poll, 2,000 tickets open" if not quick else "CPU s: steady poll",
              statistics.median(steady_cpu), "s", baseline=bare, higher_is_better=False, target="<= 2 s")
    table.add("CPU s: first poll, every ticket opened", statistics.median(first_cpu), "s", baseline=bare,
              higher_is_better=False, target="<= 2 s")
    table.add("alerts -> PSA tickets per second (first poll)", failing / statistics.median(first_wall), "tkt/s")
    table.add("peak RSS of the run", peak_rss_mb(), "MB", higher_is_better=False)
    return table
