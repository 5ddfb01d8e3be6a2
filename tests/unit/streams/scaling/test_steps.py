"""The scaling step in the in-process harness: a rising load, a crash, and what the forwarders let through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.testing import Harness, Message, message
from streams.exceptions import InvalidRecord
from streams.scaling.league_profiles import load_profiles
from streams.scaling.policy import PolicyConfig
from streams.scaling.steps import FEED, Forecasters, ScalingStep, feed_target

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MODELS = ("profile_daily", "hw_daily")


def make_step() -> ScalingStep:
    forecasters = Forecasters(MODELS, load_profiles(None))
    return ScalingStep(PolicyConfig(capacity_per_agent=1.0), forecasters, 30.0, clock=lambda: 1.0e9)


def rising_load(n: int = 240) -> list[Message]:
    """One NBA server every 30 s, its workload rising from 1 to 13 in two hours."""
    return [
        message(
            "scaling-feed",
            {
                "server_id": "nba-1",
                "league": "NBA",
                "observed_at": START + timedelta(seconds=30 * i),
                "cpu_percent": 30.0,
                "memory_percent": 30.0,
                "disk_percent": 10.0,
                "workload": 1.0 + i / 20,
                "interval_seconds": 30.0,
            },
            "SystemMetrics",
        )
        for i in range(n)
    ]


def harness(**options) -> Harness:
    return Harness(make_step, {FEED.name: None}, **options)


def test_a_rising_load_scales_up_step_by_step():
    h = harness(batch_size=20).run(rising_load())
    commands = h.outputs_of("scaling-commands")
    assert [(c["agents_before"], c["agents_after"]) for c in commands] == [(1, 8)] + [(n, n + 1) for n in range(8, 19)]
    assert {c["action"] for c in commands} == {"scale_up"} and len({c["command_id"] for c in commands}) == 12
    state = h.tables["scaling"]["NBA"]
    assert state["agents"] == 19 and state["closed_through"] == START + timedelta(seconds=30 * 238)
    assert [c["command_id"] for c in commands] == [entry["command_id"] for entry in state["history"]]
    # one forecast and one state record per batch: the last interval each batch closed
    assert len(h.outputs_of("load-forecasts")) == len(h.outputs_of("scaling-state")) == 12
    assert h.outputs_of("load-forecasts")[-1]["computed_at"] == START + timedelta(seconds=30 * 238)


def test_a_crash_closes_every_interval_once():
    reference = harness(batch_size=20).run(rising_load())
    h = harness(batch_size=20).run(rising_load(), abort_after=[75, 150], outputs_sent_before_abort=False)
    assert h.aborts == 2
    state, expected = h.tables["scaling"]["NBA"], reference.tables["scaling"]["NBA"]
    assert (state["closed_through"], state["late_samples"]) == (expected["closed_through"], 0)
    computed = [f["computed_at"] for f in h.outputs_of("load-forecasts")]
    assert computed == [f["computed_at"] for f in reference.outputs_of("load-forecasts")]
    # decided before the first crash from the same history: the same commands with the same ids
    first = [
        c["command_id"]
        for c in reference.outputs_of("scaling-commands")
        if c["decided_at"] < START + timedelta(seconds=30 * 60)
    ]
    assert [c["command_id"] for c in h.outputs_of("scaling-commands")][: len(first)] == first


def test_the_feed_takes_a_league_input_by_league_and_refuses_a_bad_one():
    sample = {"server_id": "nba-1", "league": "NBA", "workload": 1.0, "observed_at": START}
    assert feed_target("SystemMetrics", sample) == (b"NBA", 0)
    with pytest.raises(InvalidRecord):
        feed_target("ScalingOverride", {"league": "NBA", "min_agents": 5, "max_agents": 2, "expires_at": START})
