"""Domain checks of SystemMetrics samples: every bad number is named; a good sample passes."""

from __future__ import annotations

import math

import pytest

from streams.exceptions import InvalidRecord
from streams.health.system_metrics import validate_metrics, validate_silence

GOOD = {
    "server_id": "nba-1",
    "league": "NBA",
    "cpu_percent": 12.5,
    "memory_percent": 40.0,
    "disk_percent": 50.0,
    "net_bytes_sent_per_s": 0.0,
    "net_bytes_recv_per_s": 10.0,
    "workload": 0.0,
    "active_agents": 0,
    "interval_seconds": 30.0,
    "error_rate": None,
    "latency_ms": None,
}


def test_a_good_sample_passes():
    validate_metrics(GOOD)
    validate_metrics({**GOOD, "cpu_percent": 100.0, "error_rate": 0.01, "latency_ms": 3.0})


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("workload", math.nan, "workload nan is not a finite non-negative number"),
        ("workload", -1.0, "workload -1.0 is not a finite non-negative number"),
        ("workload", math.inf, "workload inf is not a finite non-negative number"),
        ("cpu_percent", 140.0, "cpu_percent 140.0 is not a percentage"),
        ("memory_percent", math.nan, "memory_percent nan is not a percentage"),
        ("latency_ms", -5.0, "latency_ms -5.0 is not a finite non-negative number"),
        ("active_agents", -1, "active_agents -1 is not 0-100000"),
        ("active_agents", 2147483647, "active_agents 2147483647 is not 0-100000"),
        ("interval_seconds", 0.0, "interval_seconds 0.0 is not positive"),
        ("interval_seconds", math.nan, "interval_seconds nan is not positive"),
        ("interval_seconds", 1e300, "interval_seconds 1e+300 is not positive and at most 86400"),
        ("error_rate", 1.5, "error_rate 1.5 is not a fraction (0-1)"),
        ("error_rate", math.nan, "error_rate nan is not a fraction (0-1)"),
        ("server_id", "", "server_id is empty"),
        ("server_id", "s" * 129, "server_id of 129 characters is over 128"),
        ("version", "v" * 1000, "version of 1000 characters is over 128"),
        (
            "observed_at",
            "0001-01-01T00:00:00Z",
            "observed_at 0001-01-01T00:00:00Z is not within 2000-01-01..2100-01-01",
        ),
        ("observed_at", "soon", "observed_at 'soon' is not a timestamp"),
    ],
)
def test_each_bad_number_is_named(field, value, reason):
    with pytest.raises(InvalidRecord, match="invalid system metrics: ") as info:
        validate_metrics({**GOOD, field: value})
    assert reason in str(info.value)


def test_every_problem_is_listed_at_once():
    with pytest.raises(InvalidRecord) as info:
        validate_metrics({**GOOD, "workload": math.nan, "disk_percent": -1.0})
    assert "workload nan" in str(info.value) and "disk_percent -1.0" in str(info.value)


SILENCE = {
    "silence_id": "s1",
    "matchers": {"server_id": "nba-1"},
    "starts_at": "2024-01-01T00:00:00Z",
    "ends_at": "2024-01-01T01:00:00Z",
    "created_by": "ops",
    "comment": "",
}


def test_a_good_silence_passes():
    validate_silence(SILENCE)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"silence_id": ""}, "silence_id is empty"),
        ({"matchers": {}}, "matchers is empty"),
        ({"matchers": {"": "x"}}, "a matcher's name is empty"),
        ({"matchers": {f"k{i}": "v" for i in range(33)}}, "33 matchers is over 32"),
        ({"ends_at": "2023-12-31T00:00:00Z"}, "ends_at 2023-12-31T00:00:00Z is before starts_at"),
        ({"starts_at": "0001-01-01T00:00:00Z"}, "starts_at 0001-01-01T00:00:00Z is not within"),
        ({"comment": "c" * 2001}, "comment of 2001 characters is over 2000"),
    ],
)
def test_each_bad_silence_value_is_named(change, reason):
    with pytest.raises(InvalidRecord, match="invalid silence: ") as info:
        validate_silence({**SILENCE, **change})
    assert reason in str(info.value)
