"""``request_scale_up`` end to end in pure code: alert -> command (with its league) -> LeagueEvent -> scaling policy."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.codec import get_codec
from streams.health.remediation import SCALE_UP_KIND, remediate, scale_up_event
from streams.scaling.policy import PolicyConfig, add_league_event, decide, new_state
from tests.unit.streams.health.test_remediation import T0, alert

CFG = PolicyConfig(capacity_per_agent=1.0, target_utilization=0.5, up_cooldown_seconds=60, down_cooldown_seconds=600)


def scale_up_command(severity: str = "warning") -> dict:
    _, cmds, _ = remediate(None, alert("HighCpu", severity))
    [cmd] = [c for c in cmds if c["action"] == "request_scale_up"]
    return cmd


def test_the_command_carries_the_league_of_the_alert():
    assert scale_up_command()["parameters"] == {"league": "NBA"}
    no_league = {**alert("HighCpu", "critical"), "league": None, "value": 85.0}
    _, cmds, _ = remediate(None, no_league)
    assert [c["parameters"] for c in cmds] == [{"fraction": "0.25"}, {}]


def test_the_league_event_is_deterministic_and_valid():
    cmd = scale_up_command()
    event = scale_up_event(cmd, "NBA", 1.5, 900)
    assert event == scale_up_event(dict(cmd), "NBA", 1.5, 900)  # a redelivered command: the same event
    assert event["event_id"] == f"remediation-{cmd['command_id']}" and event["kind"] == SCALE_UP_KIND
    assert event["starts_at"] == T0 and event["multiplier"] == 1.5 and event["duration_seconds"] == 900
    assert "s1" in event["description"]
    codec = get_codec()
    name, decoded = codec.decode(codec.encode("LeagueEvent", event), ("ScheduledGame", "LeagueEvent"))
    assert name == "LeagueEvent" and decoded == {"cancelled": False, **event}


def test_the_scaling_policy_applies_it_while_it_lasts_and_only_once():
    t0 = T0.timestamp()
    event = scale_up_event(scale_up_command(), "NBA", 1.5, 900)
    base, _ = decide(new_state("NBA", 1), t0 + 60, 1.0, 4.0, CFG)
    assert base["agents"] == 8  # 4 / 0.5
    state = add_league_event(add_league_event(new_state("NBA", 1), event), event)  # delivered twice
    assert len(state["events"]) == 1
    state, cmd = decide(state, t0 + 60, 1.0, 4.0, CFG)
    assert state["agents"] == 12 and cmd["action"] == "scale_up"  # 4 x 1.5 / 0.5
    assert f"event {event['event_id']} x1.5" in cmd["reason"]
    after, _ = decide(add_league_event(new_state("NBA", 1), event), t0 + 901, 1.0, 4.0, CFG)
    assert after["agents"] == 8  # the event is over
    assert datetime.fromtimestamp(t0, UTC) == event["starts_at"]
