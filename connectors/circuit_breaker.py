"""Circuit breakers around outside calls (X API, webhooks, data feeds), after resilience4j's model.

States CLOSED, OPEN, HALF_OPEN. In CLOSED every call's outcome goes into a sliding window (COUNT_BASED:
the last N calls; TIME_BASED: the calls of the last N seconds). Once the window holds at least
``minimum_number_of_calls`` (capped at the window size for COUNT_BASED) and the failure rate or the
slow-call rate reaches its threshold, the breaker opens: calls are rejected with ``CallNotPermitted``.
After ``wait_duration_in_open_state`` the next call moves it to HALF_OPEN, which lets
``permitted_calls_in_half_open_state`` probe calls through and then closes (rates below the thresholds)
or opens again. Defaults are resilience4j's. The clock is injected. Every state change calls
``on_state_change(breaker_state_record, alert_record)``: see :func:`edge_publisher`.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from connectors.exceptions import ConnectorError
from streams.health.rules import fingerprint

log = logging.getLogger(__name__)
T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"
COUNT_BASED, TIME_BASED = "COUNT_BASED", "TIME_BASED"


class CallNotPermitted(ConnectorError):
    """The breaker is OPEN (or HALF_OPEN with every probe taken): the call was not made."""

    def __init__(self, breaker: str, state: str):
        super().__init__(f"circuit breaker {breaker!r} is {state}: call not permitted")
        self.breaker = breaker
        self.state = state


@dataclass(frozen=True)
class BreakerConfig:
    """resilience4j's knobs and defaults (durations in seconds, rates in percent)."""

    failure_rate_threshold: float = 50.0
    slow_call_rate_threshold: float = 100.0
    slow_call_duration: float = 60.0
    sliding_window_type: str = COUNT_BASED
    sliding_window_size: int = 100
    minimum_number_of_calls: int = 100
    wait_duration_in_open_state: float = 60.0
    permitted_calls_in_half_open_state: int = 10
    record_exception: Callable[[BaseException], bool] = field(default=lambda exc: True)
    ignore_exceptions: tuple[type[BaseException], ...] = ()
    record_result: Callable[[Any], bool] | None = None  # True means "count this result as a failure"

    def __post_init__(self):
        if self.sliding_window_type not in (COUNT_BASED, TIME_BASED):
            raise ValueError(f"sliding_window_type must be {COUNT_BASED} or {TIME_BASED}")
        if self.sliding_window_size < 1 or self.minimum_number_of_calls < 1:
            raise ValueError("sliding_window_size and minimum_number_of_calls must be >= 1")
        if self.permitted_calls_in_half_open_state < 1:
            raise ValueError("permitted_calls_in_half_open_state must be >= 1")

    @classmethod
    def from_settings(cls, s: Any, **overrides: Any) -> BreakerConfig:
        values = dict(
            failure_rate_threshold=s.breaker_failure_rate_threshold,
            slow_call_rate_threshold=s.breaker_slow_call_rate_threshold,
            slow_call_duration=s.breaker_slow_call_duration_seconds,
            sliding_window_type=s.breaker_sliding_window_type.upper(),
            sliding_window_size=s.breaker_sliding_window_size,
            minimum_number_of_calls=s.breaker_minimum_number_of_calls,
            wait_duration_in_open_state=s.breaker_wait_duration_in_open_state_seconds,
            permitted_calls_in_half_open_state=s.breaker_permitted_calls_in_half_open_state,
        )
        values.update(overrides)
        return cls(**values)


class _Window:
    """Outcomes of recent calls: the last ``size`` calls, or the calls of the last ``size`` seconds."""

    def __init__(self, kind: str, size: int, clock: Callable[[], float]):
        self.kind, self.size, self.clock = kind, size, clock
        self.calls = self.failed = self.slow = 0
        self._items: deque = deque()  # COUNT: (failed, slow); TIME: [second, calls, failed, slow]

    def _expire(self) -> None:
        if self.kind != TIME_BASED:
            return
        oldest = int(self.clock()) - self.size + 1
        while self._items and self._items[0][0] < oldest:
            _, c, f, s = self._items.popleft()
            self.calls, self.failed, self.slow = self.calls - c, self.failed - f, self.slow - s

    def record(self, failed: bool, slow: bool) -> None:
        if self.kind == COUNT_BASED:
            if len(self._items) == self.size:
                f, s = self._items.popleft()
                self.calls, self.failed, self.slow = self.calls - 1, self.failed - f, self.slow - s
            self._items.append((int(failed), int(slow)))
        else:
            self._expire()
            second = int(self.clock())
            if not self._items or self._items[-1][0] != second:
                self._items.append([second, 0, 0, 0])
            bucket = self._items[-1]
            bucket[1] += 1
            bucket[2] += int(failed)
            bucket[3] += int(slow)
        self.calls += 1
        self.failed += int(failed)
        self.slow += int(slow)

    def rates(self, minimum: int) -> tuple[float | None, float | None]:
        """Failure and slow-call rates in percent, or None below ``minimum`` calls."""
        self._expire()
        if self.calls < minimum or self.calls == 0:
            return None, None
        return 100.0 * self.failed / self.calls, 100.0 * self.slow / self.calls


class CircuitBreaker:
    """One breaker; ``await breaker.call(fn, ...)`` wraps an async call, or use acquire/on_success/on_error."""

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_state_change: Callable[[dict[str, Any], dict[str, Any] | None], None] | None = None,
    ):
        self.name = name
        self.config = config or BreakerConfig()
        self.clock, self.now = clock, now
        self.on_state_change = on_state_change
        self.state = CLOSED
        self.transitions: list[dict[str, Any]] = []  # BreakerState records, newest last
        self._opened_at = 0.0
        self._half_open_permits = 0
        self._window = self._closed_window()

    def _closed_window(self) -> _Window:
        c = self.config
        return _Window(c.sliding_window_type, c.sliding_window_size, self.clock)

    def _minimum(self) -> int:
        c = self.config
        if self.state == HALF_OPEN:
            return c.permitted_calls_in_half_open_state
        if c.sliding_window_type == COUNT_BASED:
            return min(c.minimum_number_of_calls, c.sliding_window_size)
        return c.minimum_number_of_calls

    # -- permission and outcomes ------------------------------------------------------------------------
    def acquire(self) -> None:
        """Ask to make a call; raise ``CallNotPermitted`` if the breaker does not let it through."""
        if self.state == OPEN:
            if self.clock() - self._opened_at < self.config.wait_duration_in_open_state:
                raise CallNotPermitted(self.name, OPEN)
            self._transition(HALF_OPEN, "wait duration in open state elapsed")
        if self.state == HALF_OPEN:
            if self._half_open_permits <= 0:
                raise CallNotPermitted(self.name, HALF_OPEN)
            self._half_open_permits -= 1

    def release(self) -> None:
        """Give a permission back without recording an outcome (an ignored exception)."""
        if self.state == HALF_OPEN:
            self._half_open_permits += 1

    def on_success(self, duration: float) -> None:
        self._record(False, duration)

    def on_error(self, duration: float) -> None:
        self._record(True, duration)

    def _record(self, failed: bool, duration: float) -> None:
        if self.state == OPEN:
            return  # a call that started before the breaker opened
        self._window.record(failed, duration >= self.config.slow_call_duration)
        failure_rate, slow_rate = self._window.rates(self._minimum())
        if failure_rate is None:
            return
        c = self.config
        if failure_rate >= c.failure_rate_threshold:
            self._transition(OPEN, f"failure rate {failure_rate:.1f}% >= {c.failure_rate_threshold:g}%")
        elif slow_rate >= c.slow_call_rate_threshold:
            self._transition(OPEN, f"slow-call rate {slow_rate:.1f}% >= {c.slow_call_rate_threshold:g}%")
        elif self.state == HALF_OPEN:
            self._transition(CLOSED, f"probes passed: failure rate {failure_rate:.1f}%")

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run ``await fn(*args, **kwargs)`` through the breaker."""
        self.acquire()
        start = self.clock()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            if isinstance(exc, self.config.ignore_exceptions) or not self.config.record_exception(exc):
                self.release()
            else:
                self.on_error(self.clock() - start)
            raise
        failed = self.config.record_result is not None and self.config.record_result(result)
        self._record(failed, self.clock() - start)
        return result

    # -- state changes ----------------------------------------------------------------------------------
    def _transition(self, state: str, reason: str) -> None:
        previous = self.state
        failure_rate, slow_rate = self._window.rates(1)
        calls = self._window.calls
        self.state = state
        if state == OPEN:
            self._opened_at = self.clock()
        elif state == HALF_OPEN:
            self._half_open_permits = self.config.permitted_calls_in_half_open_state
            self._window = _Window(COUNT_BASED, self.config.permitted_calls_in_half_open_state, self.clock)
        if state == CLOSED:
            self._window = self._closed_window()
        record = {
            "breaker": self.name,
            "state": state,
            "previous_state": previous,
            "changed_at": self.now(),
            "failure_rate": failure_rate,
            "slow_call_rate": slow_rate,
            "calls": calls,
            "reason": reason,
            "host": socket.gethostname(),
        }
        self.transitions.append(record)
        log.warning("circuit breaker %s: %s -> %s (%s)", self.name, previous, state, reason)
        if self.on_state_change is not None:
            try:
                self.on_state_change(record, breaker_alert(record))
            except Exception:  # publishing must never break the call path
                log.exception("circuit breaker %s: cannot publish its state change", self.name)


def breaker_alert(record: dict[str, Any]) -> dict[str, Any] | None:
    """The Alert of a state change: firing when the breaker opens, resolved when it closes."""
    state, previous = record["state"], record["previous_state"]
    if state == OPEN and previous != OPEN:
        status = "firing"
    elif state == CLOSED and previous != CLOSED:
        status = "resolved"
    else:
        return None  # OPEN -> HALF_OPEN: still not trusted, no new transition for humans
    name = record["breaker"]
    return {
        "fingerprint": fingerprint("CircuitBreakerOpen", None, "critical", breaker=name),
        "alertname": "CircuitBreakerOpen",
        "server_id": None,
        "league": None,
        "severity": "critical",
        "status": status,
        "value": record["failure_rate"],
        "threshold": None,
        "summary": f"circuit breaker {name} {previous} -> {state}: {record['reason']}",
        "suggestion": f"Check the health of {name}; calls are rejected until probes pass in HALF_OPEN.",
        "at": record["changed_at"],
        "starts_at": None,
        "labels": {"breaker": name, "source": "breaker", "host": record["host"] or ""},
    }


def edge_publisher(producer: Any) -> Callable[[dict[str, Any], dict[str, Any] | None], None]:
    """An ``on_state_change`` callback producing to ``breaker-state`` and ``alerts`` with an EdgeProducer."""

    def publish(state_record: dict[str, Any], alert: dict[str, Any] | None) -> None:
        producer.send("breaker-state", state_record)
        if alert is not None:
            producer.send("alerts", alert)

    return publish


def breaker_from_settings(name: str, producer: Any = None, settings: Any = None, **overrides: Any) -> CircuitBreaker:
    """A breaker with the ``WIREREPORT_BREAKER_*`` settings (``overrides`` win) that publishes its state changes
    to ``breaker-state`` and ``alerts`` through ``producer`` (an EdgeProducer) if one is given.

    Example for any outside call: ``await breaker_from_settings("x-api", producer).call(client.post, url)``.
    """
    if settings is None:
        from streams.settings import get_settings

        settings = get_settings()
    config = BreakerConfig.from_settings(settings, **overrides)
    return CircuitBreaker(name, config, on_state_change=edge_publisher(producer) if producer is not None else None)
