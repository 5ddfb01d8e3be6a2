"""Property: random metrics, league events and overrides, valid and hostile, through the scaling agent's path (the
forwarders' checks, then the step on ``scaling-feed``): hostile ones are refused with their reason, valid ones reach
their league's state, and the step never stops."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.testing import Harness, message
from streams.exceptions import InvalidRecord
from streams.health.system_metrics import validate_metrics
from streams.scaling.league_profiles import load_profiles
from streams.scaling.policy import PolicyConfig
from streams.scaling.steps import FEED, Forecasters, ScalingStep, feed_target

LEAGUES = st.sampled_from(["NFL", "NBA", "WNBA"])
INSTANTS = st.datetimes(datetime(2000, 1, 2), datetime(2099, 12, 30), timezones=st.just(UTC))
YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)

METRICS = st.fixed_dictionaries(
    {
        "server_id": st.sampled_from(["s1", "s2"]),
        "league": LEAGUES,
        "observed_at": INSTANTS,
        "cpu_percent": st.floats(0.0, 100.0),
        "memory_percent": st.floats(0.0, 100.0),
        "disk_percent": st.floats(0.0, 100.0),
        "net_bytes_sent_per_s": st.floats(0.0, 1e9),
        "net_bytes_recv_per_s": st.floats(0.0, 1e9),
        "workload": st.floats(0.0, 1e6),
        "active_agents": st.integers(0, 1000),
        "interval_seconds": st.floats(1.0, 3600.0),
    }
)
EVENTS = st.fixed_dictionaries(
    {
        "event_id": st.text(min_size=1, max_size=20),
        "league": LEAGUES,
        "kind": st.sampled_from(["breaking_news", "trade_deadline"]),
        "multiplier": st.none() | st.floats(0.01, 100.0),
        "starts_at": INSTANTS,
        "duration_seconds": st.integers(1, 7 * 86_400),
        "description": st.text(max_size=50),
    }
)
OVERRIDES = st.fixed_dictionaries(
    {
        "override_id": st.text(min_size=1, max_size=20),
        "league": LEAGUES,
        "predictive_enabled": st.booleans(),
        "min_agents": st.none() | st.integers(0, 50),
        "max_agents": st.none() | st.integers(50, 100_000),
        "reason": st.text(max_size=50),
        "expires_at": INSTANTS,
        "created_at": INSTANTS,
        "created_by": st.text(max_size=20),
    }
)
# (schema, field, hostile value, what the reason names)
HOSTILE = [
    ("SystemMetrics", "workload", math.nan, "workload nan"),
    ("SystemMetrics", "cpu_percent", 1e308, "cpu_percent 1e+308"),
    ("SystemMetrics", "observed_at", YEAR_ONE, "observed_at 0001-01-01"),
    ("LeagueEvent", "multiplier", math.nan, "multiplier nan"),
    ("LeagueEvent", "multiplier", 1e300, "multiplier 1e+300"),
    ("LeagueEvent", "duration_seconds", -5, "duration_seconds -5"),
    ("LeagueEvent", "duration_seconds", 2**31 - 1, "duration_seconds 2147483647"),
    ("LeagueEvent", "starts_at", YEAR_ONE, "starts_at 0001-01-01"),
    ("LeagueEvent", "event_id", "", "event_id is empty"),
    ("ScalingOverride", "max_agents", 2**31 - 1, "max_agents 2147483647"),
    ("ScalingOverride", "min_agents", -1, "min_agents -1"),
    ("ScalingOverride", "expires_at", YEAR_ONE, "expires_at 0001-01-01"),
    ("ScalingOverride", "reason", "r" * 100_000, "reason of 100000 characters"),
]
RECORDS = {"SystemMetrics": METRICS, "LeagueEvent": EVENTS, "ScalingOverride": OVERRIDES}


def forwarded(schema: str, record: dict) -> None:
    """What the scaling agent's forwarders check before a record reaches ``scaling-feed`` (raises if refused)."""
    if schema == "SystemMetrics":
        validate_metrics(record)
    feed_target(schema, record)


@st.composite
def inputs(draw) -> tuple[list[tuple[str, dict]], dict[int, str], set[str]]:
    records, expected, leagues = [], {}, set()
    for _ in range(draw(st.integers(1, 25))):
        schema = draw(st.sampled_from(sorted(RECORDS)))
        record = draw(RECORDS[schema])
        if draw(st.booleans()):
            hostile = [h for h in HOSTILE if h[0] == schema]
            _, field, value, reason = draw(st.sampled_from(hostile))
            expected[len(records)] = reason
            record = {**record, field: value}
        else:
            leagues.add(record["league"])
        records.append((schema, record))
    return records, expected, leagues


@settings(max_examples=100, deadline=None)
@given(inputs(), st.integers(1, 20))
def test_valid_inputs_take_effect_and_hostile_ones_are_refused(case, batch_size):
    records, expected, leagues = case
    refused, feed = {}, []
    for position, (schema, record) in enumerate(records):
        try:
            forwarded(schema, record)
        except InvalidRecord as exc:
            refused[position] = str(exc)
            continue
        feed.append(message(FEED.name, record, schema))
    assert sorted(refused) == sorted(expected)
    for position, reason in expected.items():
        assert reason in refused[position]

    def make_step() -> ScalingStep:
        forecasters = Forecasters(("profile_daily",), load_profiles(None))
        return ScalingStep(PolicyConfig(capacity_per_agent=1.0), forecasters, 30.0, clock=lambda: 1.0e9)

    h = Harness(make_step, {FEED.name: None}, batch_size=batch_size).run(feed)
    assert h.dead_letters == []  # what passed the checks never fails the step
    assert set(h.tables["scaling"]) == leagues
