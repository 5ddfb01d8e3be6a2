"""SystemMetrics records to the scaling backtest's LoadSamples, and the --since/--until times."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from connectors.backtest.from_topic import samples_from_metrics, timestamp_ms


def metric(server: str, league: str, at: str, workload: float) -> dict:
    return {"server_id": server, "league": league, "observed_at": datetime.fromisoformat(at), "workload": workload}


def test_one_server_on_interval_starts_maps_one_record_to_one_sample():
    records = [
        metric("nba-1", "NBA", "2003-03-03T07:00:00+00:00", 0.37),
        metric("nba-1", "NBA", "2003-03-03T07:05:00+00:00", 0.25),
    ]
    assert samples_from_metrics(records, 30.0) == [
        {"league": "NBA", "observed_at": "2003-03-03T07:00:00Z", "workload": 0.37},
        {"league": "NBA", "observed_at": "2003-03-03T07:05:00Z", "workload": 0.25},
    ]


def test_servers_are_summed_per_league_and_interval_each_by_its_mean():
    records = [
        metric("a", "NFL", "2018-09-09T17:00:05+00:00", 10.0),
        metric("b", "NFL", "2018-09-09T17:00:10+00:00", 1.0),
        metric("a", "NFL", "2018-09-09T17:00:20+00:00", 20.0),  # server a's mean in the interval: 15
        metric("c", "NBA", "2018-09-09T17:00:01+00:00", 4.0),
        metric("b", "NFL", "2018-09-09T17:00:31+00:00", 2.0),  # the next interval
    ]
    assert samples_from_metrics(records, 30.0) == [
        {"league": "NBA", "observed_at": "2018-09-09T17:00:00Z", "workload": 4.0},
        {"league": "NFL", "observed_at": "2018-09-09T17:00:00Z", "workload": 16.0},
        {"league": "NFL", "observed_at": "2018-09-09T17:00:30Z", "workload": 2.0},
    ]


def test_samples_come_in_time_order_whatever_the_record_order():
    records = [
        metric("a", "NFL", "2018-09-09T18:00:00+00:00", 1.0),
        metric("b", "NFL", "2018-09-09T17:00:00+00:00", 2.0),
    ]
    assert [s["observed_at"] for s in samples_from_metrics(records, 60.0)] == [
        "2018-09-09T17:00:00Z",
        "2018-09-09T18:00:00Z",
    ]


def test_the_interval_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        samples_from_metrics([], 0.0)


def test_times_are_iso_8601_naive_meaning_utc():
    expected = int(datetime(2018, 9, 9, 17, tzinfo=UTC).timestamp() * 1000)
    assert timestamp_ms("2018-09-09T17:00:00Z") == expected
    assert timestamp_ms("2018-09-09T17:00:00") == expected
    assert timestamp_ms("2018-09-09T13:00:00-04:00") == expected
    with pytest.raises(argparse.ArgumentTypeError, match="not an ISO-8601 time"):
        timestamp_ms("yesterday")
