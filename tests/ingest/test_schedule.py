"""Poll scheduling maths: cache floors, jittered intervals, capped exponential backoff, Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.ingest.schedule import MAX_FLOOR, cache_floor, next_poll_after_failure, next_poll_after_success

NOW = datetime(2026, 2, 26, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Cache-Control": "public, max-age=600"}, timedelta(seconds=600)),
        ({"cache-control": "max-age=60, s-maxage=300"}, timedelta(seconds=300)),
        ({"Cache-Control": 'max-age="120"'}, timedelta(seconds=120)),
        ({"Cache-Control": "max-age=0"}, None),
        ({"Cache-Control": "no-cache, max-age=600"}, None),
        ({"Cache-Control": "no-store"}, None),
        ({"Cache-Control": "max-age=99999999"}, MAX_FLOOR),
        ({"Expires": "Thu, 26 Feb 2026 12:30:00 GMT"}, timedelta(minutes=30)),
        ({"Expires": "Thu, 26 Feb 2026 11:00:00 GMT"}, None),
        ({"Expires": "0"}, None),
        ({"Cache-Control": "public", "Expires": "Thu, 26 Feb 2026 12:10:00 GMT"}, timedelta(minutes=10)),
        ({"Cache-Control": "max-age=60", "Expires": "Thu, 26 Feb 2026 14:00:00 GMT"}, timedelta(seconds=60)),
        ({}, None),
    ],
)
def test_cache_floor_reads_max_age_then_expires(headers: dict[str, str], expected: timedelta | None) -> None:
    assert cache_floor(headers, NOW) == expected


def test_success_waits_about_the_interval_with_bounded_jitter() -> None:
    rng = random.Random(7)
    waits = [next_poll_after_success(NOW, 10 * MIN, floor=None, rng=rng) - NOW for _ in range(200)]
    assert all(9 * MIN <= w <= 11 * MIN for w in waits)
    assert len(set(waits)) > 100  # really jittered, not a constant


def test_success_never_polls_before_the_cache_floor() -> None:
    rng = random.Random(1)
    moments = [next_poll_after_success(NOW, 2 * MIN, floor=15 * MIN, rng=rng) for _ in range(50)]
    assert all(m == NOW + 15 * MIN for m in moments)


def test_surge_interval_below_the_floor_still_yields_to_the_floor() -> None:
    surge = next_poll_after_success(NOW, timedelta(seconds=30), floor=5 * MIN, jitter=0.0, rng=random.Random(0))
    assert surge == NOW + 5 * MIN


def test_zero_jitter_gives_exactly_the_interval() -> None:
    assert next_poll_after_success(NOW, 10 * MIN, floor=None, jitter=0.0, rng=random.Random(0)) == NOW + 10 * MIN


@pytest.mark.parametrize(("failures", "low", "high"), [(1, 0.5, 1), (2, 1, 2), (3, 2, 4), (5, 8, 16), (9, 128, 256)])
def test_failure_backoff_doubles_within_its_jitter_band(failures: int, low: float, high: float) -> None:
    rng = random.Random(failures)
    for _ in range(50):
        wait = next_poll_after_failure(NOW, failures, base=MIN, cap=timedelta(days=1), retry_after=None, rng=rng) - NOW
        assert low * MIN <= wait <= high * MIN


@pytest.mark.parametrize("failures", [10, 50, 10_000])
def test_failure_backoff_is_capped_and_never_gives_up(failures: int) -> None:
    rng = random.Random(3)
    cap = timedelta(hours=6)
    moment = next_poll_after_failure(NOW, failures, base=MIN, cap=cap, retry_after=None, rng=rng)
    assert NOW + cap / 2 <= moment <= NOW + cap


def test_failure_never_retries_before_retry_after() -> None:
    later = NOW + timedelta(hours=2)
    moment = next_poll_after_failure(NOW, 1, base=MIN, retry_after=later, rng=random.Random(0))
    assert moment == later


def test_retry_after_sooner_than_the_backoff_does_not_shorten_it() -> None:
    rng = random.Random(0)
    moment = next_poll_after_failure(NOW, 6, base=MIN, retry_after=NOW + timedelta(seconds=5), rng=rng)
    assert moment >= NOW + 16 * MIN


def test_same_seed_gives_the_same_schedule() -> None:
    a = next_poll_after_failure(NOW, 4, base=MIN, retry_after=None, rng=random.Random(42))
    b = next_poll_after_failure(NOW, 4, base=MIN, retry_after=None, rng=random.Random(42))
    assert a == b


def test_a_retry_after_beyond_the_backoff_cap_is_cut_to_the_cap() -> None:
    from monitor.ingest.fetch import parse_retry_after

    year_ahead = parse_retry_after("999999999999", NOW)
    assert year_ahead is not None and year_ahead - NOW > timedelta(days=300)
    moment = next_poll_after_failure(NOW, 1, base=MIN, cap=timedelta(hours=6), retry_after=year_ahead,
                                     rng=random.Random(0))
    assert moment == NOW + timedelta(hours=6)


def test_a_cache_floor_is_cut_to_the_backoff_cap() -> None:
    floor = cache_floor({"Cache-Control": "max-age=99999999999999"}, NOW, cap=timedelta(hours=6))
    assert floor == timedelta(hours=6)
