"""Circuit breaker transitions with an injected clock (resilience4j semantics)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from connectors.circuit_breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    TIME_BASED,
    BreakerConfig,
    CallNotPermitted,
    CircuitBreaker,
)
from schemas.codec import get_codec


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.t)


def make(config: BreakerConfig | None = None):
    clock = Clock()
    published = []
    cb = CircuitBreaker(
        "webhook", config, clock=clock, now=clock.now, on_state_change=lambda rec, alert: published.append((rec, alert))
    )
    return cb, clock, published


def outcomes(cb: CircuitBreaker, pattern: str, duration: float = 0.01) -> None:
    for ch in pattern:
        cb.acquire()
        (cb.on_error if ch == "F" else cb.on_success)(duration)


def test_defaults_are_resilience4j():
    c = BreakerConfig()
    assert (c.failure_rate_threshold, c.slow_call_rate_threshold, c.slow_call_duration) == (50, 100, 60)
    assert (c.sliding_window_type, c.sliding_window_size, c.minimum_number_of_calls) == ("COUNT_BASED", 100, 100)
    assert (c.wait_duration_in_open_state, c.permitted_calls_in_half_open_state) == (60, 10)


def test_closed_stays_closed_below_minimum_calls_then_opens_at_threshold():
    cb, _, published = make()
    outcomes(cb, "F" * 99)
    assert cb.state == CLOSED  # 99 failures but fewer than 100 calls
    outcomes(cb, "F")
    assert cb.state == OPEN
    rec, alert = published[-1]
    assert (rec["previous_state"], rec["state"], rec["failure_rate"], rec["calls"]) == (CLOSED, OPEN, 100.0, 100)
    assert alert["status"] == "firing" and alert["alertname"] == "CircuitBreakerOpen"
    get_codec().encode("BreakerState", rec, validate_first=True)
    get_codec().encode("Alert", alert, validate_first=True)


def test_failure_rate_just_below_threshold_stays_closed_and_window_slides():
    cb, _, _ = make(BreakerConfig(sliding_window_size=10, minimum_number_of_calls=10))
    outcomes(cb, "SFSFSFSFSS")  # 40 %
    assert cb.state == CLOSED
    outcomes(cb, "F")  # window: FSFSFSFSSF -> 50 %
    assert cb.state == OPEN


def test_open_rejects_until_wait_then_half_open_closes_after_good_probes():
    cb, clock, published = make(BreakerConfig(sliding_window_size=4, minimum_number_of_calls=4))
    outcomes(cb, "FFFF")
    with pytest.raises(CallNotPermitted):
        cb.acquire()
    clock.t += 59.9
    with pytest.raises(CallNotPermitted):
        cb.acquire()
    clock.t += 0.1
    outcomes(cb, "S")
    assert cb.state == HALF_OPEN
    outcomes(cb, "SSSSFSSSS")  # 10 probes, 10 % failed
    assert cb.state == CLOSED
    states = [(r["previous_state"], r["state"]) for r, _ in published]
    assert states == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]
    assert [a and a["status"] for _, a in published] == ["firing", None, "resolved"]


def test_half_open_limits_probes_and_reopens_on_failures():
    cb, clock, _ = make(
        BreakerConfig(sliding_window_size=2, minimum_number_of_calls=2, permitted_calls_in_half_open_state=3)
    )
    outcomes(cb, "FF")
    clock.t += 60
    for _ in range(3):
        cb.acquire()  # three probes in flight
    with pytest.raises(CallNotPermitted) as exc:
        cb.acquire()
    assert exc.value.state == HALF_OPEN
    cb.on_error(0.1)
    cb.on_success(0.1)
    assert cb.state == HALF_OPEN
    cb.on_error(0.1)  # 2 of 3 failed
    assert cb.state == OPEN
    with pytest.raises(CallNotPermitted):
        cb.acquire()


def test_slow_calls_open_the_breaker():
    cb, _, published = make(BreakerConfig(sliding_window_size=5, minimum_number_of_calls=5, slow_call_duration=2.0))
    outcomes(cb, "SSSS", duration=2.5)
    assert cb.state == CLOSED
    outcomes(cb, "S", duration=3.0)
    assert cb.state == OPEN  # 100 % slow (successful) calls
    assert "slow-call rate" in published[-1][0]["reason"]


def test_time_based_window_forgets_old_calls():
    cfg = BreakerConfig(sliding_window_type=TIME_BASED, sliding_window_size=10, minimum_number_of_calls=4)
    cb, clock, _ = make(cfg)
    outcomes(cb, "FFF")
    clock.t += 11  # the three failures leave the 10 s window
    outcomes(cb, "SSS")
    assert cb.state == CLOSED
    outcomes(cb, "F")  # 1 of 4 within the window
    assert cb.state == CLOSED
    outcomes(cb, "FF")  # 3 of 6
    assert cb.state == OPEN


def test_async_call_wrapper_records_outcomes_ignores_and_results():
    cfg = BreakerConfig(
        sliding_window_size=2,
        minimum_number_of_calls=2,
        ignore_exceptions=(KeyError,),
        record_result=lambda status: status >= 500,
    )
    cb, _, _ = make(cfg)

    async def ok(status):
        return status

    async def boom(exc):
        raise exc

    async def scenario():
        assert await cb.call(ok, 200) == 200
        with pytest.raises(KeyError):
            await cb.call(boom, KeyError("ignored"))
        assert cb.state == CLOSED and cb._window.calls == 1
        with pytest.raises(RuntimeError):
            await cb.call(boom, RuntimeError("down"))
        assert cb.state == OPEN  # 1 of 2 = 50 %
        with pytest.raises(CallNotPermitted):
            await cb.call(ok, 200)

    asyncio.run(scenario())
    cb2, _, _ = make(cfg)

    async def server_errors():
        await cb2.call(ok, 503)
        await cb2.call(ok, 502)

    asyncio.run(server_errors())
    assert cb2.state == OPEN


def test_publish_failure_does_not_break_calls():
    def broken(_rec, _alert):
        raise RuntimeError("broker down")

    clock = Clock()
    cb = CircuitBreaker(
        "x", BreakerConfig(sliding_window_size=1, minimum_number_of_calls=1), clock=clock, on_state_change=broken
    )
    outcomes(cb, "F")
    assert cb.state == OPEN


def test_breaker_from_settings_reads_settings_and_overrides():
    from connectors.circuit_breaker import breaker_from_settings
    from streams.settings import Settings

    cb = breaker_from_settings("x-api", settings=Settings(breaker_minimum_number_of_calls=5), sliding_window_size=7)
    assert cb.name == "x-api" and cb.config.minimum_number_of_calls == 5 and cb.config.sliding_window_size == 7
    assert cb.config.failure_rate_threshold == 50.0 and cb.on_state_change is None
