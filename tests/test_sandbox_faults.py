"""Each sandbox fault does what it says, over real HTTP on loopback."""

from __future__ import annotations

import threading
import time
from email.utils import parsedate_to_datetime

import httpx
import pytest
from lxml import etree

from agent.sandbox import SandboxError, SandboxServer
from dbsys.safexml import UnsafeXML, parse_bytes

PSG = "demo"
NEW = "<NewTicket><SiteCode>ACME-HQ</SiteCode><Title>t</Title></NewTicket>"


@pytest.fixture
def sb():
    with SandboxServer(psg=PSG, seed=3, sites=5, devices=10, tickets=5) as server:
        yield server


@pytest.fixture
def api(sb):
    with httpx.Client(base_url=sb.url + "/psa/v1", headers={"X-PSG": PSG}, timeout=10) as client:
        yield client


def code(r: httpx.Response) -> str:
    return etree.fromstring(r.content).get("code")


def test_error_rate_one_fails_every_request_with_retry_after(sb, api):
    sb.faults.set(error_rate=1.0, error_status=502, error_retry_after=7)
    r = api.get("/ping")
    assert r.status_code == 502 and code(r) == "Unavailable" and r.headers["Retry-After"] == "7"
    sb.faults.clear()
    assert api.get("/ping").status_code == 200


def test_error_rate_is_seeded_and_reproducible():
    def run() -> list[int]:
        with SandboxServer(seed=11, sites=1, devices=1) as server:
            server.faults.set(error_rate=0.5)
            with httpx.Client(base_url=server.url, headers={"X-PSG": "demo"}) as c:
                return [c.get("/psa/v1/ping").status_code for _ in range(30)]
    first, second = run(), run()
    assert first == second and set(first) == {200, 503}


def test_paths_restrict_faults(sb, api):
    sb.faults.set(error_rate=1.0, paths=["/psa/v1/queue"])
    assert api.get("/queue").status_code == 503
    assert api.get("/ping").status_code == 200


def test_faults_never_touch_admin_endpoints(sb, api):
    sb.faults.set(outage=True)
    assert httpx.get(sb.url + "/sandbox/state").status_code == 200
    assert httpx.delete(sb.url + "/sandbox/faults").status_code == 200
    assert api.get("/ping").status_code == 200


def test_latency_delays_answers(sb, api):
    sb.faults.set(latency_ms=300)
    start = time.monotonic()
    assert api.get("/ping").status_code == 200
    assert time.monotonic() - start >= 0.3


def test_rate_limit_count_then_normal(sb, api):
    sb.faults.set(rate_limit_count=2, retry_after=3)
    for _ in range(2):
        r = api.get("/sites")
        assert r.status_code == 429 and code(r) == "TooManyRequests" and r.headers["Retry-After"] == "3"
    assert api.get("/sites").status_code == 200


def test_rate_limit_retry_after_http_date(sb, api):
    sb.faults.set(rate_limit_count=1, retry_after=120, retry_after_http_date=True)
    r = api.get("/ping")
    assert r.status_code == 429
    when = parsedate_to_datetime(r.headers["Retry-After"])
    assert 60 < when.timestamp() - time.time() <= 121


def test_outage_until_cleared(sb, api):
    sb.faults.set(outage=True)
    assert [api.get("/ping").status_code for _ in range(3)] == [503] * 3
    sb.faults.clear()
    assert api.get("/ping").status_code == 200


def test_outage_seconds_ends_by_itself(sb, api):
    sb.faults.set(outage_seconds=0.3)
    r = api.get("/ping")
    assert r.status_code == 503 and code(r) == "Unavailable"
    time.sleep(0.35)
    assert api.get("/ping").status_code == 200


def test_trickle_sends_the_body_slowly_but_whole(sb, api):
    sb.faults.set(trickle_bytes_per_second=200)
    start = time.monotonic()
    r = api.get("/ping")
    elapsed = time.monotonic() - start
    normal_len = len(r.content)
    assert r.status_code == 200 and etree.fromstring(r.content).tag == "Pong"
    assert elapsed >= normal_len / 200 * 0.8


def test_hang_never_answers(sb, api):
    sb.faults.set(hang=True)
    with pytest.raises(httpx.ReadTimeout):
        api.get("/ping", timeout=0.3)
    sb.faults.clear()
    assert api.get("/ping").status_code == 200


def test_clearing_hang_closes_held_requests_without_answer(sb, api):
    sb.faults.set(hang=True)
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(_try(api, "/ping")))
    worker.start()
    time.sleep(0.2)
    sb.faults.clear()
    worker.join(timeout=5)
    assert outcome == ["closed"]


def test_drop_after_apply_applies_then_closes(sb, api):
    sb.faults.set(drop_after_apply_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/tickets", content=NEW, headers={"Idempotency-Key": "drop-1"})
    assert [e["action"] for e in sb.world.ledger] == ["create"]
    # the retry with the same key gets the first answer and applies nothing more
    r = api.post("/tickets", content=NEW, headers={"Idempotency-Key": "drop-1"})
    assert r.status_code == 201 and len(sb.world.ledger) == 1
    assert etree.fromstring(r.content).findtext("TicketID") == sb.world.ledger[0]["ticket_id"]


def test_drop_after_apply_spares_reads_and_refusals(sb, api):
    sb.faults.set(drop_after_apply_rate=1.0)
    assert api.get("/queue").status_code == 200
    assert api.post("/tickets", content="<NewTicket/>").status_code == 422


def test_duplicate_feed_repeats_each_change(sb, api):
    sb.faults.set(duplicate_feed=True)
    ids = [c.get("id") for c in etree.fromstring(api.get("/queue", params={"limit": 2}).content)]
    assert ids == ["c-000001", "c-000001", "c-000002", "c-000002"]


def test_redeliver_ignores_after(sb, api):
    api.post("/queue/ack", content='<Ack cursor="c-000002"/>').raise_for_status()
    sb.faults.set(redeliver=True)
    root = etree.fromstring(api.get("/queue", params={"after": "c-000004"}).content)
    assert [c.get("id") for c in root] == ["c-000003", "c-000004", "c-000005"]


@pytest.mark.parametrize("kind", ["doctype", "billion_laughs", "external_entity", "malformed"])
def test_hostile_answers_are_refused_by_safe_parsing(sb, api, kind):
    sb.faults.set(hostile=kind, hostile_count=2)
    for _ in range(2):
        body = api.get("/queue").content
        with pytest.raises(UnsafeXML):
            parse_bytes(body)
        if kind != "malformed":
            assert b"<!DOCTYPE" in body
    assert etree.fromstring(api.get("/queue").content).tag == "Changes"


def test_hostile_huge_is_over_the_limit(sb, api):
    sb.faults.set(hostile="huge", hostile_huge_bytes=200_000)
    body = api.get("/sites").content
    assert len(body) > 200_000
    with pytest.raises(UnsafeXML):
        parse_bytes(body, max_bytes=100_000)


def test_admin_fault_endpoint_and_bad_settings(sb):
    r = httpx.post(sb.url + "/sandbox/faults", json={"error_rate": 1.0, "paths": ["/psa/v1/sites"]})
    assert r.status_code == 200 and r.json()["error_rate"] == 1.0
    assert httpx.get(sb.url + "/psa/v1/sites", headers={"X-PSG": PSG}).status_code == 503
    for bad in ({"error_rate": 2}, {"nonsense": 1}, {"hostile": "kraken"}, {"paths": "/psa"}):
        r = httpx.post(sb.url + "/sandbox/faults", json=bad)
        assert r.status_code == 422 and r.json()["error"]["code"] == "Invalid"
    assert httpx.delete(sb.url + "/sandbox/faults").json()["error_rate"] == 0.0
    with pytest.raises(SandboxError):
        sb.faults.set(error_status=200)


def test_stop_releases_hanging_requests():
    server = SandboxServer(sites=1, devices=1).start()
    server.faults.set(hang=True)
    with httpx.Client(base_url=server.url, headers={"X-PSG": "demo"}) as client:
        outcome = []
        worker = threading.Thread(target=lambda: outcome.append(_try(client)))
        worker.start()
        time.sleep(0.2)
        server.stop()
        worker.join(timeout=5)
    assert outcome and outcome[0] == "closed"


def _try(client: httpx.Client, path: str = "/psa/v1/ping") -> str:
    try:
        client.get(path, timeout=10)
        return "answered"
    except httpx.HTTPError:
        return "closed"
