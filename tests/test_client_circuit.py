"""The circuit breaker with a fake clock, alone and inside the client."""

from __future__ import annotations

import httpx
import pytest
from loguru import logger

from agent.backends.continuum import (
    CircuitBreaker,
    CircuitOpen,
    ContinuumClient,
    ContinuumNotFound,
    ContinuumUnavailable,
    RetryPolicy,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_consecutive_failures():
    breaker = CircuitBreaker(failure_threshold=3, reset_after=10, clock=Clock())
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state == "closed"
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen) as info:
        breaker.before_call()
    assert info.value.retryable and info.value.retry_after == pytest.approx(10)


def test_success_resets_the_count():
    breaker = CircuitBreaker(failure_threshold=2, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"


def test_half_open_lets_one_probe_through_then_closes_on_success():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after=30, clock=clock)
    breaker.record_failure()
    clock.now += 29.9
    with pytest.raises(CircuitOpen) as info:
        breaker.before_call()
    assert info.value.retry_after == pytest.approx(0.1)
    clock.now += 0.2
    breaker.before_call()  # the probe
    assert breaker.state == "half-open"
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # only one probe at a time
    breaker.record_success()
    assert breaker.state == "closed"
    breaker.before_call()


def test_failed_probe_reopens_for_another_period():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after=5, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 5
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 4
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.now += 1
    breaker.before_call()


def test_client_fails_fast_without_traffic_while_open_and_recovers():
    clock = Clock()
    state = {"down": True}
    calls = []

    def handler(request):
        calls.append(request)
        if state["down"]:
            return httpx.Response(503)
        return httpx.Response(200, content=b'<Pong partner="p" activated="true"/>')

    client = ContinuumClient("http://continuum.test", "psg", transport=httpx.MockTransport(handler),
                             retry=RetryPolicy(max_attempts=2), sleep=lambda s: None,
                             circuit=CircuitBreaker(failure_threshold=4, reset_after=30, clock=clock))
    for _ in range(2):
        with pytest.raises(ContinuumUnavailable):
            client.ping()
    assert len(calls) == 4 and client.circuit.state == "open"
    with pytest.raises(CircuitOpen):
        client.ping()
    assert len(calls) == 4  # no traffic while open
    state["down"] = False
    clock.now += 30
    assert client.ping().activated
    assert client.circuit.state == "closed" and len(calls) == 5


def test_circuit_opening_mid_retries_stops_the_retries():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(500)

    client = ContinuumClient("http://continuum.test", "psg", transport=httpx.MockTransport(handler),
                             retry=RetryPolicy(max_attempts=10), sleep=lambda s: None,
                             circuit=CircuitBreaker(failure_threshold=3, clock=Clock()))
    with pytest.raises(CircuitOpen):
        client.ping()
    assert len(calls) == 3


def test_definitive_answers_count_as_success():
    answers = iter([httpx.Response(500), httpx.Response(404), httpx.Response(500)])
    client = ContinuumClient("http://continuum.test", "psg", transport=httpx.MockTransport(lambda r: next(answers)),
                             retry=RetryPolicy(max_attempts=1), sleep=lambda s: None,
                             circuit=CircuitBreaker(failure_threshold=2, clock=Clock()))
    with pytest.raises(ContinuumUnavailable):
        client.ping()
    with pytest.raises(ContinuumNotFound):
        client.ping()
    with pytest.raises(ContinuumUnavailable):
        client.ping()
    assert client.circuit.state == "closed"


def test_a_server_that_stays_down_is_a_warning_once_not_at_every_failed_probe():
    lines: list[tuple[str, str]] = []
    sink = logger.add(lambda m: lines.append((m.record["level"].name, m.record["message"])), level="DEBUG")
    try:
        clock = Clock()
        breaker = CircuitBreaker(failure_threshold=2, reset_after=10, clock=clock)
        for _ in range(2):
            breaker.before_call()
            breaker.record_failure()
        for _ in range(5):  # a probe every 10 s, each failing
            clock.now += 10
            breaker.before_call()
            breaker.record_failure()
        clock.now += 10
        breaker.before_call()
        breaker.record_success()
    finally:
        logger.remove(sink)
    loud = [(level, message) for level, message in lines if level not in ("DEBUG", "TRACE")]
    assert loud == [("WARNING", "Continuum circuit open after 2 failure(s): pausing calls for 10 s"),
                    ("INFO", "Continuum circuit closed: the server answers again")]
