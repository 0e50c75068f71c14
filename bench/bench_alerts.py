"""Alert RMM polls: the failing checks of a large N-sight account, and the open alerts of a large
NinjaOne instance, turned into PSA tickets.

Each sandbox (in this process, on its own threads) holds 10,000 devices with 2,000 failing checks
or open alerts; every site is linked to an account. Measured, each the median of several runs,
in CPU seconds of the polling thread only (the sandbox's threads excluded):

- the baseline: a bare httpx GET of the same answer (``list_failing_checks`` parsed by lxml;
  ``/v2/alerts`` parsed as JSON), measured in the same run;
- N-sight: the client's read of the answer (safe parsing, one ``Alert`` per check);
- the first poll, which opens 2,000 tickets (also as alerts → tickets per second, wall clock);
- a steady poll, nothing changed, 2,000 tickets open (the poll the service repeats). The NinjaOne
  client reads every device too, to know each alert's location;
- a busy poll: a tenth of the tickets completed by people (their clears queued), a tenth of the
  alerts recovered and a tenth failed again (notes, back into the Inbox), all in one poll;
- NinjaOne: the client's read of the open alerts when it knows the devices, and its first read,
  which reads the devices too (beside a bare GET of the alerts and of every page of devices).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from lxml import etree

from agent.backends.embedded import EmbeddedPsa, StateStore
from agent.backends.ninjaone import NinjaOneClient
from agent.backends.nsight import NsightClient
from agent.ports.psa import STATUS_COMPLETED
from agent.sandbox.ninjaone import NinjaSandbox
from agent.sandbox.ninjaone.server import CLIENT_ID, CLIENT_SECRET, NinjaWorld
from agent.sandbox.nsight import NsightSandbox, NsightWorld
from agent.sync.alerts.lifecycle import AlertLifecycle
from bench.common import Table, peak_rss_mb

RUNS = 3


def _cpu(job: Callable[[], Any]) -> tuple[float, float, Any]:
    """(CPU seconds of this thread, wall seconds, result) of one run of ``job``."""
    cpu, wall = time.thread_time(), time.perf_counter()
    result = job()
    return time.thread_time() - cpu, time.perf_counter() - wall, result


def _store(folder: Path, site_codes: list[str]) -> tuple[StateStore, EmbeddedPsa]:
    state = StateStore(folder / "zenithlink.sqlite3")
    psa = EmbeddedPsa(state.db)
    with state.transaction():
        accounts = [psa.add_account(f"Customer {n}") for n in range(50)]
        for n, code in enumerate(site_codes):
            state.link_site(code, accounts[n % len(accounts)])
    return state, psa


Churn = Callable[[list[str], list[str]], Callable[[], None]]
"""Recover the first alerts, fail the second ones again, in the sandbox; returns what undoes it."""


def _polls(client: Any, site_codes: list[str], failing: int, churn: Churn) -> tuple[float, float, float, float]:
    """(CPU of the first poll, its wall seconds, CPU of a steady poll, CPU of a busy poll), on a fresh store."""
    with tempfile.TemporaryDirectory() as folder:
        state, psa = _store(Path(folder), site_codes)
        lifecycle = AlertLifecycle(state=state, psa=psa, rmm=client)
        first_cpu, first_wall, outcome = _cpu(lifecycle.poll_once)
        assert outcome.raised == failing
        steady_cpu, _wall, outcome = _cpu(lifecycle.poll_once)
        assert outcome.raised == outcome.repeated == 0
        tenth = failing // 10
        rows = state.open_alert_tickets()
        with state.transaction():
            for row in rows[:tenth]:
                psa.set_ticket_status(row.ticket_rec_id, STATUS_COMPLETED)
        undo = churn([r.alert_id for r in rows[tenth:2 * tenth]], [r.alert_id for r in rows[2 * tenth:3 * tenth]])
        busy_cpu, _wall, outcome = _cpu(lifecycle.poll_once)
        assert (outcome.clears_queued, outcome.recovered, outcome.repeated) == (tenth, tenth, tenth), outcome
        undo()
        state.close()
    return first_cpu, first_wall, steady_cpu, busy_cpu


def _add_polls(table: Table, rmm: str, bare: list[float], polls: list[tuple[float, float, float, float]],
               failing: int) -> None:
    baseline = statistics.median(bare)
    table.add(f"{rmm} CPU s: steady poll, {failing} tickets open", statistics.median(p[2] for p in polls), "s",
              baseline=baseline, higher_is_better=False, target="<= 2 s")
    table.add(f"{rmm} CPU s: busy poll, 3 x {failing // 10} changes", statistics.median(p[3] for p in polls), "s",
              baseline=baseline, higher_is_better=False, target="<= 2 s")
    table.add(f"{rmm} CPU s: first poll, every ticket opened", statistics.median(p[0] for p in polls), "s",
              baseline=baseline, higher_is_better=False, target="<= 2 s")
    table.add(f"{rmm} alerts -> PSA tickets per second", failing / statistics.median(p[1] for p in polls), "tkt/s")


def _nsight(table: Table, devices: int, failing: int) -> None:
    world = NsightWorld(clients=20, sites=devices // 20, devices=devices, checks_per_device=1)
    for checkid in list(world.checks)[:failing]:
        world.fail(checkid, output="Disk space below threshold: 3% free")
    bare, reads, polls = [], [], []
    with NsightSandbox(world) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        query = {"apikey": world.api_key, "service": "list_failing_checks"}
        for _ in range(RUNS):
            cpu, _wall, count = _cpu(lambda: sum(1 for _ in etree.fromstring(
                http.get("/api/", params=query).content).iter("check")))
            assert count == failing
            bare.append(cpu)
            client = NsightClient(sandbox.url, world.api_key, min_poll_seconds=0)
            cpu, _wall, snapshot = _cpu(client.failing)
            assert len(snapshot.alerts) == failing
            reads.append(cpu)
            polls.append(_polls(client, [str(siteid) for siteid in world.sites], failing, _nsight_churn(world)))
            client.close_connection()
    table.add("N-sight CPU s: client reads the failing checks", statistics.median(reads), "s",
              baseline=statistics.median(bare), higher_is_better=False, target="baseline: bare GET + lxml")
    _add_polls(table, "N-sight", bare, polls, failing)


def _nsight_churn(world: NsightWorld) -> Churn:
    def churn(recover: list[str], again: list[str]) -> Callable[[], None]:
        for checkid in recover:
            world.recover(int(checkid))
        for checkid in again:
            world.recover(int(checkid))
            world.fail(int(checkid), output="Disk space below threshold: 2% free")
        return lambda: [world.fail(int(checkid), output="Disk space below threshold: 3% free") for checkid in recover]
    return churn


def _ninjaone_churn(world: NinjaWorld) -> Churn:
    def churn(recover: list[str], again: list[str]) -> Callable[[], None]:
        gone = [(world.alerts[uid]["deviceId"], world.alerts[uid]["sourceConfigUid"]) for uid in recover]
        for uid in recover:
            world.clear(uid)
        for uid in again:
            world.trigger(world.alerts[uid]["deviceId"], world.alerts[uid]["sourceConfigUid"])
        return lambda: [world.trigger(device, condition) for device, condition in gone]
    return churn


def _bare_ninjaone(http: httpx.Client, path: str) -> int:
    """Every item of ``path``, page after page, as a bare client reads them."""
    count, after = 0, None
    while True:
        page = http.get(path, params={"pageSize": 1000, **({"after": after} if after else {})}).json()
        count += len(page)
        if len(page) < 1000:
            return count
        after = page[-1]["id"]


def _ninjaone(table: Table, devices: int, failing: int) -> None:
    world = NinjaWorld.seeded(organizations=20, locations=devices // 20, devices=devices)
    for device_id in list(world.devices)[:failing]:
        world.trigger(device_id, "Disk space below 10%")
    bare, bare_first, reads, first_reads, polls = [], [], [], [], []
    with NinjaSandbox(world) as sandbox:
        for _ in range(RUNS):
            client = NinjaOneClient(sandbox.url, CLIENT_ID, CLIENT_SECRET)
            headers = {"Authorization": f"Bearer {client._bearer(False)}"}
            with httpx.Client(base_url=sandbox.url, headers=headers) as http:
                cpu, _wall, count = _cpu(lambda http=http: len(http.get("/v2/alerts").json()))
                assert count == failing
                bare.append(cpu)
                cpu, _wall, count = _cpu(lambda http=http: len(http.get("/v2/alerts").json())
                                         + _bare_ninjaone(http, "/v2/devices"))
                assert count == failing + devices
                bare_first.append(cpu)
            cpu, _wall, snapshot = _cpu(client.failing)
            assert len(snapshot.alerts) == failing
            first_reads.append(cpu)
            cpu, _wall, snapshot = _cpu(client.failing)
            reads.append(cpu)
            client.close_connection()
            client = NinjaOneClient(sandbox.url, CLIENT_ID, CLIENT_SECRET)
            polls.append(_polls(client, [str(code) for code in world.locations], failing, _ninjaone_churn(world)))
            client.close_connection()
    table.add("NinjaOne CPU s: client reads the open alerts", statistics.median(reads), "s",
              baseline=statistics.median(bare), higher_is_better=False, target="baseline: bare GET + json")
    table.add("NinjaOne CPU s: first read, devices too", statistics.median(first_reads), "s",
              baseline=statistics.median(bare_first), higher_is_better=False,
              target="baseline: bare GETs of alerts and devices")
    _add_polls(table, "NinjaOne", bare, polls, failing)


def main(quick: bool) -> Table:
    devices, failing = (2_000, 400) if quick else (10_000, 2_000)
    table = Table(f"Alert RMM polls: {devices} devices, {failing} failing checks / open alerts "
                  "(baseline: a bare GET of the same answer, parsed)")
    _nsight(table, devices, failing)
    _ninjaone(table, devices, failing)
    table.add("peak RSS of the run", peak_rss_mb(), "MB", higher_is_better=False)
    return table
