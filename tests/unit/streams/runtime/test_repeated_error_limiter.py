"""Log rate limiting during an outage: a few lines of each error, then one that says how many were left out."""

from __future__ import annotations

import logging

from streams.runtime.log_limits import RepeatedErrorLimiter


def record(msg: str, level: int = logging.ERROR, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, ("127.0.0.1:9092",), None)


def test_an_error_repeated_many_times_a_second_is_logged_a_few_times_per_window():
    now = [0.0]
    limiter = RepeatedErrorLimiter(burst=3, window=10.0, clock=lambda: now[0])

    passed = []
    for i in range(100):  # 100 a second for a second
        now[0] = i / 100
        passed.append(limiter.filter(record("Unable connect to %s")))
    assert passed.count(True) == 3 and passed[:3] == [True] * 3

    now[0] = 10.5
    after = record("Unable connect to %s")
    assert limiter.filter(after)
    assert after.getMessage() == "Unable connect to 127.0.0.1:9092 [97 more like this in 10s not logged]"


def test_other_messages_loggers_and_levels_are_counted_apart():
    limiter = RepeatedErrorLimiter(burst=1, window=10.0, clock=lambda: 0.0)
    assert limiter.filter(record("a %s"))
    assert not limiter.filter(record("a %s"))
    assert limiter.filter(record("b %s"))
    assert limiter.filter(record("a %s", name="faust"))
    assert all(limiter.filter(record("a %s", level=logging.WARNING)) for _ in range(5))
