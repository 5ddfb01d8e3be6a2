"""Property: random samples, valid and hostile, through the health step: every valid one reaches its server's
state, every hostile one is dead-lettered with its reason, and the step never stops."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.testing import Harness, Message, message
from streams.health.remediation import RemediationConfig
from streams.health.rules import HealthConfig
from streams.health.steps import HealthStep
from streams.health.system_metrics import validate_metrics

PERCENT = st.floats(0.0, 100.0)
RATE = st.floats(0.0, 1e12)
# (field, hostile value, what the reason names)
HOSTILE = [
    ("cpu_percent", math.nan, "cpu_percent nan"),
    ("memory_percent", 101.0, "memory_percent 101.0"),
    ("disk_percent", -math.inf, "disk_percent -inf"),
    ("workload", -1.0, "workload -1.0"),
    ("workload", math.inf, "workload inf"),
    ("net_bytes_sent_per_s", math.nan, "net_bytes_sent_per_s nan"),
    ("active_agents", 2**31 - 1, "active_agents 2147483647"),
    ("active_agents", -1, "active_agents -1"),
    ("interval_seconds", 0.0, "interval_seconds 0.0"),
    ("interval_seconds", 1e300, "interval_seconds 1e+300"),
    ("error_rate", 2.0, "error_rate 2.0"),
    ("latency_ms", math.nan, "latency_ms nan"),
    ("observed_at", datetime(1, 1, 1, tzinfo=UTC), "observed_at 0001-01-01"),
    ("server_id", "", "server_id is empty"),
    ("server_id", "s" * 5000, "server_id of 5000 characters"),
    ("version", "v" * 5000, "version of 5000 characters"),
]


def samples(server_id: str) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {
            "server_id": st.just(server_id),
            "league": st.sampled_from(["NFL", "NBA", "WNBA"]),
            "observed_at": st.datetimes(datetime(2000, 1, 2), datetime(2099, 12, 30), timezones=st.just(UTC)),
            "cpu_percent": PERCENT,
            "memory_percent": PERCENT,
            "disk_percent": PERCENT,
            "net_bytes_sent_per_s": RATE,
            "net_bytes_recv_per_s": RATE,
            "workload": RATE,
            "active_agents": st.integers(0, 100_000),
            "interval_seconds": st.floats(0.001, 86_400.0),
            "error_rate": st.none() | st.floats(0.0, 1.0),
            "latency_ms": st.none() | RATE,
            "version": st.none() | st.text(max_size=20),
            "host": st.none() | st.text(max_size=20),
        }
    )


@st.composite
def inputs(draw) -> tuple[list[Message], dict[int, str], set[str]]:
    messages, expected, servers = [], {}, set()
    for _ in range(draw(st.integers(1, 30))):
        server = draw(st.sampled_from(["nba-1", "nba-2", "nfl-1"]))
        sample = draw(samples(server))
        if draw(st.booleans()):
            field, value, reason = draw(st.sampled_from(HOSTILE))
            expected[len(messages)] = reason
            sample = {**sample, "server_id": "hostile", field: value}
        else:
            servers.add(server)
        messages.append(message("system-metrics", sample))
    return messages, expected, servers


@settings(max_examples=100, deadline=None)
@given(inputs(), st.integers(1, 20))
def test_valid_samples_take_effect_and_hostile_ones_are_dead_lettered(case, batch_size):
    messages, expected, servers = case
    h = Harness(
        lambda: HealthStep(HealthConfig(), RemediationConfig(), monotonic=lambda: 1000.0),
        {"system-metrics": validate_metrics},
        batch_size=batch_size,
    )
    h.run(messages)
    letters = {letter["offset"]: letter["reason"] for letter in h.dead_letters}
    assert sorted(letters) == sorted(expected)
    for offset, reason in expected.items():
        assert reason in letters[offset]
    assert set(h.tables["health"]) == servers
