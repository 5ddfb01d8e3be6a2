"""Domain checks of SystemMetrics samples: every bad number is named; a good sample passes."""

from __future__ import annotations

import math

import pytest

from streams.exceptions import InvalidRecord
from streams.health.system_metrics import validate_metrics

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
        ("active_agents", -1, "active_agents -1 is negative"),
        ("interval_seconds", 0.0, "interval_seconds 0.0 is not positive"),
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
