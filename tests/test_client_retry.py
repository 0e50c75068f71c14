"""Retry timing with an injected sleep: exponential backoff, jitter, Retry-After, rescheduling."""

from __future__ import annotations

import time
from email.utils import formatdate

import httpx
import pytest

from agent.backends.continuum import CircuitBreaker, ContinuumClient, ContinuumUnavailable, RateLimited, RetryPolicy


def make(responses, policy: RetryPolicy, sleeps: list[float]):
    seen: list[httpx.Request] = []
    answers = iter(responses)

    def handler(request):
        seen.append(request)
        return next(answers)

    client = ContinuumClient("http://continuum.test", "psg", transport=httpx.MockTransport(handler), retry=policy,
                             sleep=sleeps.append, circuit=CircuitBreaker(failure_threshold=100))
    return client, seen


PONG = httpx.Response(200, content=b'<Pong partner="p" activated="true"/>')


def test_backoff_is_exponential_with_full_jitter_at_the_top():
    sleeps: list[float] = []
    client, seen = make([httpx.Response(503)] * 5, RetryPolicy(max_attempts=5, base=0.5, cap=30, random=lambda: 1.0),
                        sleeps)
    with pytest.raises(ContinuumUnavailable):
        client.ping()
    assert len(seen) == 5
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


def test_backoff_is_capped():
    policy = RetryPolicy(base=1.0, cap=3.0, random=lambda: 1.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [1.0, 2.0, 3.0, 3.0, 3.0]


def test_jitter_stays_within_bounds():
    policy = RetryPolicy(base=0.5, cap=30.0)
    for retry in range(1, 10):
        ceiling = min(30.0, 0.5 * 2 ** (retry - 1))
        samples = [policy.backoff(retry) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert max(samples) - min(samples) > ceiling / 10  # it really is random


def test_retry_after_seconds_is_a_floor():
    sleeps: list[float] = []
    responses = [httpx.Response(429, headers={"Retry-After": "7"}), PONG]
    client, seen = make(responses, RetryPolicy(random=lambda: 0.0), sleeps)
    assert client.ping().partner == "p"
    assert sleeps == [7.0] and len(seen) == 2


def test_retry_after_on_503_is_honoured_too():
    sleeps: list[float] = []
    client, _ = make([httpx.Response(503, headers={"Retry-After": "3"}), PONG], RetryPolicy(random=lambda: 0.0),
                     sleeps)
    client.ping()
    assert sleeps == [3.0]


def test_retry_after_http_date_is_honoured():
    now = 1_800_000_000.0
    sleeps: list[float] = []
    date = formatdate(now + 12, usegmt=True)
    policy = RetryPolicy(random=lambda: 0.0, wall_clock=lambda: now)
    client, _ = make([httpx.Response(429, headers={"Retry-After": date}), PONG], policy, sleeps)
    client.ping()
    assert sleeps == [pytest.approx(12.0)]


def test_retry_after_date_in_the_past_means_backoff_only():
    policy = RetryPolicy(random=lambda: 1.0, wall_clock=time.time)
    assert policy.parse_retry_after(formatdate(time.time() - 100, usegmt=True)) == 0.0
    assert policy.delay(1, 0.0) == 0.5


def test_unreadable_retry_after_is_ignored():
    policy = RetryPolicy()
    assert policy.parse_retry_after("soon") is None
    assert policy.parse_retry_after("") is None
    assert policy.parse_retry_after(None) is None


def test_long_retry_after_is_not_waited_for_the_caller_reschedules():
    sleeps: list[float] = []
    client, seen = make([httpx.Response(429, headers={"Retry-After": "600"})], RetryPolicy(max_retry_after=60),
                        sleeps)
    with pytest.raises(RateLimited) as info:
        client.ping()
    assert sleeps == [] and len(seen) == 1
    assert info.value.retry_after == 600.0 and info.value.retryable


def test_long_retry_after_on_503_raises_unavailable_with_retry_after():
    sleeps: list[float] = []
    client, _ = make([httpx.Response(503, headers={"Retry-After": "3600"})], RetryPolicy(), sleeps)
    with pytest.raises(ContinuumUnavailable) as info:
        client.ping()
    assert info.value.retry_after == 3600.0 and sleeps == []


def test_rate_limit_exhausting_retries_carries_retry_after():
    sleeps: list[float] = []
    client, seen = make([httpx.Response(429, headers={"Retry-After": "2"})] * 3, RetryPolicy(max_attempts=3), sleeps)
    with pytest.raises(RateLimited) as info:
        client.ping()
    assert len(seen) == 3 and all(s >= 2.0 for s in sleeps)
    assert info.value.retry_after == 2.0


def test_posts_are_retried_with_the_same_idempotency_key():
    sleeps: list[float] = []
    ticket = b"<Ticket><TicketID>1</TicketID><Status>Closed</Status></Ticket>"
    client, seen = make([httpx.Response(502), httpx.Response(500), httpx.Response(200, content=ticket)],
                        RetryPolicy(random=lambda: 0.0), sleeps)
    assert client.close_ticket("1", idempotency_key="close-1").status == "Closed"
    assert [r.headers["Idempotency-Key"] for r in seen] == ["close-1"] * 3
    assert len({r.content for r in seen}) == 1


def test_generated_ack_key_is_stable_across_retries():
    sleeps: list[float] = []
    client, seen = make([httpx.Response(503), httpx.Response(200, content=b'<Acked cursor="c"/>')],
                        RetryPolicy(random=lambda: 0.0), sleeps)
    client.ack("c")
    assert seen[0].headers["Idempotency-Key"] == seen[1].headers["Idempotency-Key"]


def test_policy_refuses_zero_attempts():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
