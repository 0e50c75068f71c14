"""The client against the real sandbox server over loopback HTTP: endpoints and resilience."""

from __future__ import annotations

import time

import pytest

from agent.backends.continuum import (
    BadAnswer,
    BadSecurityCode,
    CircuitBreaker,
    CircuitOpen,
    ContinuumClient,
    ContinuumNotFound,
    ContinuumUnavailable,
    NewTicket,
    NotActivated,
    RateLimited,
    RetryPolicy,
)
from agent.sandbox import SandboxServer

FAST = RetryPolicy(max_attempts=8, base=0.001, cap=0.01)


@pytest.fixture
def sandbox():
    with SandboxServer(psg="demo", seed=1, sites=20, devices=200, tickets=0) as sb:
        yield sb


def client_for(sb: SandboxServer, **kwargs) -> ContinuumClient:
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("timeout", 5.0)
    return ContinuumClient(sb.url, kwargs.pop("psg", "demo"), **kwargs)


def _site_with_devices(client: ContinuumClient) -> tuple[str, str]:
    device = next(client.iter_devices(page_size=10))
    return device.site_code, device.device_id


def test_inventory_pages_through_everything(sandbox):
    with client_for(sandbox) as client:
        sites = list(client.iter_sites(page_size=7))
        pages = list(client.device_pages(page_size=37))
        assert len(sites) == 20 and len({s.site_code for s in sites}) == 20
        assert sum(len(p.items) for p in pages) == 200 and len(pages) == 6
        assert all(p.total == 200 for p in pages)
        site_code = pages[0].items[0].site_code
        of_site = list(client.iter_devices(site_code=site_code))
        assert of_site and all(d.site_code == site_code for d in of_site)
        assert all(s.children and s.children[0][0] == "SiteID" for s in sites)


def test_ticket_round_trip_and_feed(sandbox):
    with client_for(sandbox) as client:
        site_code, device_id = _site_with_devices(client)
        opened = sandbox.world.open_ticket(site_code=site_code, device_id=device_id, title="Disk <full> & more")
        page = client.changes(None)
        (change,) = [c for c in page.changes if c.ticket.ticket_id == opened["ticket_id"]]
        assert change.kind == "TicketCreated" and change.ticket.title == "Disk <full> & more"
        assert client.ack(page.next, [(opened["ticket_id"], "TKT00000000000000001")]) == page.next
        assert client.get_ticket(opened["ticket_id"]).psa_ticket_id == "TKT00000000000000001"

        created = client.create_ticket(NewTicket(site_code=site_code, title="From PSA", description="d",
                                                 psa_ticket_id="TKT00000000000000002"), idempotency_key="c-1")
        assert created.source == "PSA" and created.origin == "PSA"
        assert client.assign(created.ticket_id, "VSD", "over to you", idempotency_key="a-1").assigned_to == "VSD"
        note = client.add_note(created.ticket_id, "hello", "jsmith", idempotency_key="n-1")
        assert note.text == "hello" and note.author == "jsmith"
        assert client.close_ticket(created.ticket_id, "done", idempotency_key="x-1").status == "Closed"
        with pytest.raises(ContinuumNotFound):
            client.get_ticket("999999999999")


def test_wrong_security_code_and_pending_activation(sandbox):
    with client_for(sandbox, psg="not-the-code") as client:
        with pytest.raises(BadSecurityCode) as info:
            client.ping()
        assert "not-the-code" not in str(info.value)
    sandbox.world.set_activated(False)
    with client_for(sandbox) as client:
        with pytest.raises(NotActivated):
            list(client.iter_sites())
        sandbox.world.set_activated(True)
        assert client.ping().activated


def test_5xx_bursts_are_survived(sandbox):
    sandbox.faults.set(error_rate=0.4, error_status=503)
    sleeps: list[float] = []
    with client_for(sandbox, circuit=CircuitBreaker(failure_threshold=50), sleep=sleeps.append) as client:
        assert len(list(client.iter_devices(page_size=10))) == 200
        assert len(list(client.iter_sites(page_size=3))) == 20
    assert len(sleeps) >= 5  # the bursts really happened


@pytest.mark.parametrize("http_date", [False, True])
def test_rate_limit_waits_at_least_retry_after(sandbox, http_date):
    sandbox.faults.set(rate_limit_count=2, retry_after=2, retry_after_http_date=http_date)
    sleeps: list[float] = []
    with client_for(sandbox, sleep=sleeps.append) as client:
        assert client.ping().partner
    assert len(sleeps) == 2
    # an HTTP date has one-second resolution, so it may say a little under the seconds asked
    assert all(s >= (0.9 if http_date else 2.0) for s in sleeps)


def test_rate_limit_beyond_the_cap_is_handed_back(sandbox):
    sandbox.faults.set(rate_limit_count=1, retry_after=600)
    sleeps: list[float] = []
    with client_for(sandbox, sleep=sleeps.append) as client:
        with pytest.raises(RateLimited) as info:
            client.ping()
        assert info.value.retry_after == 600 and sleeps == []
        assert client.ping().partner  # the limit is spent


@pytest.mark.parametrize("fault", [{"trickle_bytes_per_second": 50}, {"hang": True}])
def test_slow_server_aborted_within_deadline_and_next_request_fine(sandbox, fault):
    timeout = 0.8
    with client_for(sandbox, timeout=timeout, retry=RetryPolicy(max_attempts=1)) as client:
        assert client.ping().partner
        sandbox.faults.set(paths=["/psa/v1/sites"], **fault)
        start = time.monotonic()
        with pytest.raises(ContinuumUnavailable):
            list(client.iter_sites(page_size=100))
        assert time.monotonic() - start < timeout + 1.0
        sandbox.faults.clear()
        assert len(list(client.iter_sites())) == 20


@pytest.mark.parametrize("action", ["create", "assign", "note", "close", "ack"])
def test_applied_then_dropped_is_retried_with_one_effect(sandbox, action):
    with client_for(sandbox) as client:
        site_code, _ = _site_with_devices(client)
        tid = sandbox.world.open_ticket(site_code=site_code)["ticket_id"]
        cursor = client.changes(None).next
        before = len([e for e in sandbox.world.ledger if e["action"] == action])
        sandbox.faults.set(drop_after_apply_rate=1.0)
        key = f"key-{action}"
        if action == "create":
            client.create_ticket(NewTicket(site_code=site_code, title="t", psa_ticket_id="TKT00000000000000009"),
                                 idempotency_key=key)
        elif action == "assign":
            client.assign(tid, "VSD", idempotency_key=key)
        elif action == "note":
            client.add_note(tid, "text", "me", idempotency_key=key)
        elif action == "close":
            assert client.close_ticket(tid, idempotency_key=key).status == "Closed"
        else:
            assert client.ack(cursor, [(tid, "TKT00000000000000008")], idempotency_key=key) == cursor
        effects = [e for e in sandbox.world.ledger if e["action"] == action]
        assert len(effects) == before + 1 and effects[-1]["idempotency_key"] == key


def test_circuit_opens_on_outage_and_recovers(sandbox):
    breaker = CircuitBreaker(failure_threshold=3, reset_after=0.3)
    with client_for(sandbox, retry=RetryPolicy(max_attempts=1), circuit=breaker) as client:
        sandbox.faults.set(outage=True)
        for _ in range(3):
            with pytest.raises(ContinuumUnavailable):
                client.ping()
        with pytest.raises(CircuitOpen):
            client.ping()
        sandbox.faults.clear()
        with pytest.raises(CircuitOpen):
            client.ping()  # still within reset_after: no traffic, even though the server is back
        time.sleep(0.35)
        assert client.ping().partner
        assert breaker.state == "closed"


@pytest.mark.parametrize("kind", ["doctype", "billion_laughs", "external_entity", "malformed", "huge"])
def test_hostile_answers_refused_then_next_answer_fine(sandbox, kind):
    sandbox.faults.set(hostile=kind, hostile_count=1, hostile_huge_bytes=3 * 1024 * 1024)
    with client_for(sandbox, max_answer_bytes=1024 * 1024) as client:
        with pytest.raises(BadAnswer):
            list(client.iter_sites())
        assert len(list(client.iter_sites())) == 20
