"""The metrics agent never queues a workload that is no rate: bad counters, restarts, bad replays, shared queue."""

from __future__ import annotations

import json
import logging
import math
import threading

import pytest

from connectors.exceptions import InputError
from connectors.sources.metrics.agent import DiskBuffer, MetricsAgent
from connectors.sources.metrics.workload import (
    BadReading,
    CounterWorkload,
    Reading,
    ThrottledWarning,
    check_replay,
    counter_command,
    counter_file,
    parse_counter,
    replay_readings,
)
from schemas.codec import get_codec

SYSTEM = {"cpu_percent": 10.0, "memory_percent": 20.0, "disk_percent": 30.0}


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "1e400", "-1", "", "  ", "12 apples"])
def test_a_counter_must_be_a_finite_non_negative_number(text):
    with pytest.raises(BadReading, match=r"counter\.txt"):
        parse_counter(text, "counter.txt")


def test_good_counters_parse():
    assert [parse_counter(t, "c") for t in ("0", " 42\n", "1.5e3")] == [0.0, 42.0, 1500.0]


def test_bad_counter_readings_are_skipped_and_logged_once_a_minute(tmp_path, caplog):
    path = tmp_path / "counter"
    now = [0.0]
    workload = CounterWorkload(counter_file(path), clock=lambda: now[0], warn=ThrottledWarning(60, lambda: now[0]))
    got = []
    with caplog.at_level(logging.WARNING):
        for t, text in [(0, "10"), (10, "nan"), (20, "inf"), (30, "-3"), (40, "70"), (50, "nan"), (80, "100")]:
            now[0] = float(t)
            path.write_text(text)
            got.append(workload().workload)
    assert got[:6] == [None, None, None, None, 1.5, None]  # 10 -> 70 over the 40 s since the last good reading
    assert got[6] == pytest.approx(0.75)  # 70 -> 100 in 40 s
    bad = [r.getMessage() for r in caplog.records]
    assert len(bad) == 1 and "'nan' is not a finite non-negative number" in bad[0]  # one line in the minute
    now[0] = 200.0
    path.write_text("nan")
    with caplog.at_level(logging.WARNING):
        assert workload().workload is None
    assert "3 more like it" in caplog.records[-1].getMessage()  # inf, -3 and nan were held back


def test_counter_command_readings(tmp_path):
    script = tmp_path / "count.sh"
    script.write_text("#!/bin/sh\ncat " + str(tmp_path / "value") + "\n")
    script.chmod(0o755)
    read = counter_command(str(script))
    (tmp_path / "value").write_text("served 120\n")
    assert read() == 120.0
    (tmp_path / "value").write_text("served nan\n")
    with pytest.raises(BadReading, match="not a finite"):
        read()
    with pytest.raises(BadReading, match="failed"):
        counter_command(str(tmp_path / "missing"))()
    with pytest.raises(InputError, match="No closing quotation"):
        counter_command("count 'x")


def _agent(tmp_path, workload, **kwargs):
    return MetricsAgent(
        "u-1", "NBA", "127.0.0.1:1", tmp_path, workload=workload, sampler=lambda: dict(SYSTEM), **kwargs
    )


def test_the_first_sample_after_a_start_waits_for_a_rate(tmp_path):
    path = tmp_path / "counter"
    path.write_text("1000")  # the league server has been counting for a while
    now = [0.0]
    agent = _agent(tmp_path, CounterWorkload(counter_file(path), clock=lambda: now[0]), interval=30.0)
    try:
        assert agent.sample() is None and agent.skipped == 1 and len(agent.buffer) == 0  # no workload 0 sent
        now[0] = 30.0
        path.write_text("1600")
        record = agent.sample()
        assert (record["workload"], record["interval_seconds"]) == (20.0, 30.0)
        _, queued = get_codec().decode(agent.buffer.peek(5)[0][1], ("SystemMetrics",))
        assert queued["workload"] == 20.0 and len(agent.buffer) == 1 and agent.samples == 1
    finally:
        agent.close()


def test_a_sample_the_worker_would_reject_is_never_queued(tmp_path, caplog):
    values = iter([Reading(math.nan), Reading(-2.0), Reading(math.inf), Reading(4.0)])
    agent = _agent(tmp_path, lambda: next(values))
    try:
        with caplog.at_level(logging.WARNING):
            assert [agent.sample() for _ in range(3)] == [None, None, None]
            assert agent.sample()["workload"] == 4.0
        assert len(agent.buffer) == 1 and agent.skipped == 3
        assert len(caplog.records) == 1 and "workload nan" in caplog.records[0].getMessage()
    finally:
        agent.close()


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def test_a_replay_is_checked_whole_before_anything_is_sent(tmp_path):
    trace = tmp_path / "t.jsonl"
    good = [{"league": "NBA", "observed_at": f"2026-01-01T00:0{i}:00Z", "workload": float(i)} for i in range(5)]
    _write(trace, good)
    assert check_replay(trace, "NBA") == 5
    with pytest.raises(InputError, match=r"t\.jsonl: no NFL samples"):
        check_replay(trace, "NFL")
    _write(trace, [*good, {"league": "NBA", "observed_at": "2026-01-01T00:09:00Z", "workload": "NaN"}])
    with pytest.raises(InputError, match=r"t\.jsonl:6: workload 'NaN' is not a number"):
        check_replay(trace, "NFL")  # any bad line, whatever its league
    _write(trace, [*good, '{"league": "NBA", "observed_at": "2026-01-01T00:09:00Z", "workload": NaN}'])
    with pytest.raises(InputError, match=r"t\.jsonl:6: workload nan is not a number"):
        check_replay(trace, "NBA")
    _write(trace, [*good, "{oops"])
    with pytest.raises(InputError, match=r"t\.jsonl:6: not valid JSON"):
        check_replay(trace, "NBA")
    _write(trace, [*good, good[2]])  # back in time: its interval would be negative
    with pytest.raises(InputError, match=r"t\.jsonl:6: NBA sample at 2026-01-01T00:02:00Z is not after"):
        list(replay_readings(trace, "NBA"))


def test_the_disk_queue_is_shared_safely_by_two_threads(tmp_path):
    buffer = DiskBuffer(tmp_path / "q.sqlite3", max_items=100_000)
    n = 3000
    received: list[bytes] = []
    done = threading.Event()

    def drain():
        while not (done.is_set() and len(buffer) == 0):
            rows = buffer.peek(50)
            if rows:
                received.extend(v for _, v in rows)
                buffer.remove_through(rows[-1][0])

    consumer = threading.Thread(target=drain)
    consumer.start()
    for i in range(n):
        buffer.push(b"%d" % i)
    done.set()
    consumer.join(60)
    assert received == [b"%d" % i for i in range(n)] and len(buffer) == 0  # each once, in order
    buffer.close()
    assert buffer.peek(5) == [] and len(buffer) == 0  # closed: empty, and acknowledgements are ignored
    buffer.remove_through(10)
    with pytest.raises(RuntimeError, match="closed"):
        buffer.push(b"late")
