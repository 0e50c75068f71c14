"""The webhook notifier against a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent import events, logs
from agent.errors import ConfigError
from agent.events import Event
from agent.plugins import get_plugin_manager
from config.loader import parse_settings
from plugins import notify_webhook
from plugins.notify_webhook import SIGNATURE_HEADER, WebhookNotifier, config_from, signature


class Receiver:
    """Answers each POST with the next status of ``script`` (then 200) and records it; a step of the
    script may be ``(status, headers)``."""

    def __init__(self) -> None:
        self.script: list[int | tuple[int, dict[str, str]]] = []
        self.received: list[tuple[int, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    step = receiver.script.pop(0) if receiver.script else 200
                    status, headers = step if isinstance(step, tuple) else (step, {})
                    receiver.received.append((status, dict(self.headers), body))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/zenith"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} requests, got {len(self.received)}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _no_leftover_notifier():
    yield
    notify_webhook.shutdown(timeout=2)


def event(n: int = 1, kind: str = events.TICKET_CREATED) -> Event:
    return Event(kind, f"Continuum ticket {n} became a PSA ticket", {"continuum_ticket_id": str(n)})


def test_posts_the_event_as_signed_json(tmp_path, receiver):
    settings = parse_settings(f"[Plugins]\nnotify_webhook=Y\n[plugin:notify_webhook]\nURL={receiver.url}\n"
                              f"Secret=hook-secret-123\n", base_dir=tmp_path)
    pm = get_plugin_manager(settings)
    pm.notify(event(42))

    [(status, headers, body)] = receiver.wait_for(1)
    assert status == 200
    document = json.loads(body)
    assert document["kind"] == "ticket_created"
    assert document["data"] == {"continuum_ticket_id": "42"}
    assert document["at"].endswith("Z")
    assert headers["Content-Type"] == "application/json"
    assert headers[SIGNATURE_HEADER] == signature("hook-secret-123", body)
    assert headers[SIGNATURE_HEADER] != signature("another-secret", body)
    assert logs.redact("hook-secret-123") == logs.REDACTED


def test_retried_after_a_500_with_the_same_body(receiver):
    receiver.script = [500, 503]
    notifier = WebhookNotifier(config_from({"url": receiver.url, "secret": "s3cr3t"}), backoff_base=0.01)
    notifier.notify(event(1))
    got = receiver.wait_for(3)
    assert [g[0] for g in got] == [500, 503, 200]
    assert len({g[2] for g in got}) == 1  # the same body, signature and delivery id each time
    assert len({g[1]["X-Zenithlink-Delivery"] for g in got}) == 1
    assert all(g[1][SIGNATURE_HEADER] == signature("s3cr3t", g[2]) for g in got)
    notifier.close()
    assert notifier.delivered == 1 and notifier.failed == 0


@pytest.mark.parametrize("retry_after", ["120", "date"])
def test_retry_after_in_seconds_or_as_an_http_date_is_waited_for(receiver, retry_after):
    value = formatdate(time.time() + 120, usegmt=True) if retry_after == "date" else retry_after
    receiver.script = [(503, {"Retry-After": value})]
    waits: list[float] = []
    notifier = WebhookNotifier(config_from({"url": receiver.url}), backoff_base=0.01, sleep=waits.append)
    notifier.notify(event(1))
    receiver.wait_for(2)
    notifier.close()
    assert len(waits) == 1 and 100 < waits[0] <= 120


def test_a_client_error_is_not_retried(receiver):
    receiver.script = [404]
    notifier = WebhookNotifier(config_from({"url": receiver.url}), backoff_base=0.01)
    notifier.notify(event(1))
    notifier.notify(event(2))
    got = receiver.wait_for(2)
    notifier.close()
    assert [g[0] for g in got] == [404, 200]
    assert [json.loads(g[2])["data"]["continuum_ticket_id"] for g in got] == ["1", "2"]
    assert notifier.failed == 1 and notifier.delivered == 1
    assert SIGNATURE_HEADER not in got[0][1]  # no secret, no signature


def test_gives_up_after_max_attempts(receiver):
    receiver.script = [502] * 10
    notifier = WebhookNotifier(config_from({"url": receiver.url, "maxattempts": "3"}), backoff_base=0.01)
    notifier.notify(event(1))
    receiver.wait_for(3)
    notifier.close()
    time.sleep(0.1)
    assert len(receiver.received) == 3 and notifier.failed == 1


def test_a_dead_receiver_does_not_block_the_caller():
    notifier = WebhookNotifier(config_from({"url": "http://127.0.0.1:9/x", "timeoutseconds": "1"}),
                               backoff_base=5)
    started = time.monotonic()
    for n in range(50):
        notifier.notify(event(n))
    assert time.monotonic() - started < 1.0
    notifier.close(timeout=1)


def test_the_queue_is_bounded():
    gate = threading.Event()
    notifier = WebhookNotifier(config_from({"url": "http://127.0.0.1:9/x", "maxattempts": "1"}))
    notifier.worker._handle = lambda item: gate.wait(5)  # a receiver that hangs
    for n in range(notifier.config.queue_size + 50):
        notifier.notify(event(n))
    assert notifier.worker.dropped >= 49
    gate.set()
    notifier.close(timeout=2)


def test_only_chosen_events_are_sent(receiver):
    notifier = WebhookNotifier(config_from({"url": receiver.url, "events": "inventory_failed"}))
    notifier.notify(event(1))
    notifier.notify(event(2, events.INVENTORY_FAILED))
    got = receiver.wait_for(1)
    notifier.close()
    assert len(receiver.received) == 1 and json.loads(got[0][2])["kind"] == "inventory_failed"


def test_missing_or_bad_url_is_a_clear_problem(tmp_path):
    with pytest.raises(ConfigError, match="URL is missing"):
        config_from({})
    with pytest.raises(ConfigError, match="must be an http"):
        config_from({"url": "ftp://example.com/x"})
    with pytest.raises(ConfigError, match="URL is missing"):
        get_plugin_manager(parse_settings("[Plugins]\nnotify_webhook=Y\n", base_dir=tmp_path))
