"""The one backoff of the agent and its one ``Retry-After`` parser."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from dbsys.backoff import Backoff, parse_retry_after


def test_the_ceiling_doubles_from_base_up_to_the_cap() -> None:
    assert [Backoff(1.0, 5.0, "none").delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_full_jitter_spreads_from_zero_to_the_ceiling() -> None:
    assert Backoff(1.0, 60.0, "full", random=lambda: 0.0).delay(3) == 0.0
    assert Backoff(1.0, 60.0, "full", random=lambda: 1.0).delay(3) == 4.0


def test_equal_jitter_never_waits_less_than_half_the_ceiling() -> None:
    assert Backoff(1.0, 60.0, "equal", random=lambda: 0.0).delay(3) == 2.0
    assert Backoff(1.0, 60.0, "equal", random=lambda: 1.0).delay(3) == 4.0


def test_jitter_is_random_within_its_bounds() -> None:
    wait = Backoff(0.5, 30.0, "full")
    samples = [wait.delay(4) for _ in range(200)]
    assert all(0.0 <= s <= 4.0 for s in samples)
    assert max(samples) - min(samples) > 0.4


def test_retry_after_is_a_floor_not_a_ceiling() -> None:
    wait = Backoff(1.0, 60.0, "none")
    assert wait.delay(1, retry_after=7.0) == 7.0
    assert wait.delay(4, retry_after=2.0) == 8.0
    assert wait.delay(1, retry_after=0.0) == 1.0


def test_a_long_run_of_retries_stays_at_the_cap() -> None:
    assert Backoff(0.5, 300.0, "none").delay(10_000) == 300.0


def test_delays_is_the_ladder_of_waits() -> None:
    assert tuple(Backoff(0.05, 1.5, "none").delays(6)) == (0.05, 0.1, 0.2, 0.4, 0.8, 1.5)
    assert list(Backoff(1.0, 1.0).delays(0)) == []


def test_a_negative_base_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        Backoff(-1.0, 5.0)


@pytest.mark.parametrize(("value", "seconds"), [("120", 120.0), (" 3 ", 3.0), ("0", 0.0), ("1.5", 1.5)])
def test_retry_after_in_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    now = 1_800_000_000.0
    assert parse_retry_after(formatdate(now + 90, usegmt=True), now=lambda: now) == pytest.approx(90.0)


def test_retry_after_date_in_the_past_is_no_wait() -> None:
    now = 1_800_000_000.0
    assert parse_retry_after(formatdate(now - 90, usegmt=True), now=lambda: now) == 0.0


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "-5", "inf", "nan", "1e3"])
def test_unreadable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None
