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


def override(max_agents: int, cancelled: bool = False) -> Message:
    record = {
        "override_id": "override-1",
        "league": "NBA",
        "predictive_enabled": True,
        "min_agents": None,
        "max_agents": max_agents,
        "reason": "hold the pool",
        "expires_at": START + timedelta(days=2),
        "created_at": START,
        "created_by": "ops",
        "cancelled": cancelled,
    }
    return message("scaling-feed", record, "ScalingOverride")


def flag(value: str, league: str | None = "NBA") -> Message:
    return message("scaling-feed", flag_record(value, league), "FeatureFlag")


def flag_record(value: str, league: str | None = "NBA") -> dict:
    return {
        "flag_id": "scaling.actions" + (f"@{league}" if league else ""),
        "name": "scaling.actions",
        "value": value,
        "league": league,
        "set_by": "ops",
        "set_at": START,
        "reason": "test",
    }


def test_a_cancelled_override_no_longer_bounds_decisions():
    load = rising_load()
    held = harness(batch_size=20).run([override(3), *load])
    assert max(c["agents_after"] for c in held.outputs_of("scaling-commands")) == 3
    h = harness(batch_size=20).run([override(3), *load[:120], override(3, cancelled=True), *load[120:]])
    after_cancel = [c for c in h.outputs_of("scaling-commands") if c["decided_at"] >= START + timedelta(hours=1)]
    assert max(c["agents_after"] for c in after_cancel) == 19
    assert h.tables["scaling"]["NBA"]["overrides"] == []


def test_a_cancelled_event_no_longer_multiplies_the_forecast():
    event = {
        "event_id": "event-1",
        "league": "NBA",
        "kind": "breaking_news",
        "multiplier": 3.0,
        "starts_at": START,
        "duration_seconds": 86400,
        "description": "",
        "cancelled": False,
    }
    load = rising_load(60)
    with_event = harness(batch_size=20).run([message("scaling-feed", event, "LeagueEvent"), *load])
    cancelled = {**event, "cancelled": True, "kind": "cancelled", "duration_seconds": 1}
    h = harness(batch_size=20).run(
        [message("scaling-feed", event, "LeagueEvent"), message("scaling-feed", cancelled, "LeagueEvent"), *load]
    )
    plain = harness(batch_size=20).run(load)
    assert h.tables["scaling"]["NBA"]["events"] == []
    agents = [c["agents_after"] for c in h.outputs_of("scaling-commands")]
    assert agents == [c["agents_after"] for c in plain.outputs_of("scaling-commands")]
    assert max(c["agents_after"] for c in with_event.outputs_of("scaling-commands")) > max(agents)


def test_forecast_only_records_decisions_and_emits_no_command_until_switched_back_on():
    load = rising_load()
    h = harness(batch_size=20).run([flag("forecast-only"), *load[:120], flag("on"), *load[120:]])
    commands = h.outputs_of("scaling-commands")
    assert commands and all(c["decided_at"] >= START + timedelta(minutes=59) for c in commands)
    history = h.tables["scaling"]["NBA"]["history"]
    # what it would have done while forecast-only is in the league's history, without a command
    assert len(history) > len(commands) and history[0]["at"] < START + timedelta(hours=1)
    states = h.outputs_of("scaling-state")
    assert states[0]["forecast_only"] is True and states[-1]["forecast_only"] is False


def test_a_global_forecast_only_flag_holds_every_league_and_a_league_flag_wins():
    load = rising_load()
    assert harness(batch_size=20).run([flag("forecast-only", None), *load]).outputs_of("scaling-commands") == []
    h = harness(batch_size=20).run([flag("forecast-only", None), flag("on"), *load])
    assert len(h.outputs_of("scaling-commands")) == 12


def test_the_feed_forwards_scaling_flags_and_cancellations_only():
    assert feed_target("FeatureFlag", flag_record("forecast-only", None)) == (b"*", 0)
    assert feed_target("FeatureFlag", {**flag_record("off"), "name": "tweets.actions"}) is None
    with pytest.raises(InvalidRecord):
        feed_target("FeatureFlag", flag_record("maybe"))
    bad_bounds = {"league": "NBA", "min_agents": 5, "max_agents": 2, "expires_at": START, "cancelled": True}
    assert feed_target("ScalingOverride", bad_bounds) == (b"NBA", 0)


def test_an_emergency_cut_is_an_alert():
    hot = [
        message(
            "scaling-feed",
            {
                "server_id": "nba-1",
                "league": "NBA",
                "observed_at": START + timedelta(seconds=30 * (240 + i)),
                "cpu_percent": 97.0,
                "memory_percent": 30.0,
                "disk_percent": 10.0,
                "workload": 13.0,
                "interval_seconds": 30.0,
            },
            "SystemMetrics",
        )
        for i in range(10)
    ]
    h = harness(batch_size=20).run([*rising_load(), *hot])
    cuts = [c for c in h.outputs_of("scaling-commands") if c["action"] == "emergency_scale_down"]
    alerts = h.outputs_of("alerts")
    assert cuts and len(alerts) == len(cuts)
    alert = alerts[0]
    assert (alert["alertname"], alert["severity"], alert["status"], alert["league"]) == (
        "ScalingEmergencyCut",
        "critical",
        "firing",
        "NBA",
    )
    assert alert["labels"] == {"notify": "once"} and alert["at"] == cuts[0]["decided_at"]
    assert alert["value"] == cuts[0]["agents_after"]
    again = harness(batch_size=20).run([*rising_load(), *hot]).outputs_of("alerts")
    assert [a["fingerprint"] for a in again] == [a["fingerprint"] for a in alerts]  # deterministic
