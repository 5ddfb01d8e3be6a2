"""The health step in the in-process harness: samples and heartbeat ticks, a crash, a poison sample."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from connectors.testing import Harness, Message, Tick, message
from streams.health.remediation import RemediationConfig
from streams.health.rules import HealthConfig
from streams.health.steps import HealthStep
from streams.health.system_metrics import validate_metrics

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeMonotonic:
    """The worker's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sample(i: int, cpu: float, server: str = "nba-7") -> dict:
    return {
        "server_id": server,
        "league": "NBA",
        "observed_at": START + timedelta(seconds=2 * i),
        "cpu_percent": cpu,
        "memory_percent": 40.0,
        "disk_percent": 50.0,
        "workload": 1.0,
    }


def samples() -> list[Message]:
    """nba-7 runs hot from its 4th sample for 74 s; nba-8 stays calm."""
    out = []
    for i in range(40):
        out.append(message("system-metrics", sample(i, 97.0 if i >= 3 else 20.0)))
        out.append(message("system-metrics", sample(i, 20.0, "nba-8"), partition=1))
    return out


def harness(clock: FakeMonotonic, **options) -> Harness:
    return Harness(
        lambda: HealthStep(HealthConfig(), RemediationConfig(), monotonic=clock),
        {"system-metrics": validate_metrics},
        **options,
    )


def transitions(h: Harness) -> list[tuple[str, str, str, str]]:
    return [(a["server_id"], a["alertname"], a["severity"], a["status"]) for a in h.outputs_of("alerts")]


def test_a_hot_server_fires_once_and_a_silent_one_goes_down_on_the_heartbeat():
    clock = FakeMonotonic()
    h = harness(clock, batch_size=16).run(samples())
    assert transitions(h) == [("nba-7", "HighCpu", "critical", "firing")]  # held 60 s; warning needs 120 s
    assert [c["action"] for c in h.outputs_of("remediation-commands")] == ["shed_load"]  # the policy owns scaling
    assert h.tables["health"]["nba-7"]["partition"] == 0 and h.tables["health"]["nba-8"]["partition"] == 1

    h.run([*samples(), Tick()])  # a tick right after the samples: nobody is late
    assert len(transitions(h)) == 1
    clock.now += 3 * 2 + 1  # three 2-second intervals of silence and a second more
    h.run([*samples(), Tick(), Tick()])
    down = [t for t in transitions(h) if t[1] == "ServerDown"]
    assert down == [("nba-7", "ServerDown", "critical", "firing"), ("nba-8", "ServerDown", "critical", "firing")]
    health = {r["server_id"]: r for r in h.outputs_of("server-health")}
    assert health["nba-7"]["status"] == "down" and health["nba-7"]["cpu_percent"] == 97.0
    assert h.tables["health"]["nba-8"]["partition"] == 1  # the tick wrote it back to its own partition


def test_a_crash_repeats_no_decision_with_a_new_id():
    reference = harness(FakeMonotonic(), batch_size=8).run(samples())
    h = harness(FakeMonotonic(), batch_size=8).run(samples(), abort_after=[30, 61])
    assert h.aborts == 2
    ids = [c["command_id"] for c in h.outputs_of("remediation-commands")]
    assert set(ids) == {c["command_id"] for c in reference.outputs_of("remediation-commands")}
    assert set(transitions(h)) == set(transitions(reference))
    assert h.tables == reference.tables


def test_a_sample_the_rules_cannot_take_is_dead_lettered_and_the_others_go_on():
    poison = message("system-metrics", {**sample(5, 20.0), "workload": math.nan})
    h = harness(FakeMonotonic(), batch_size=16).run([*samples()[:20], poison, *samples()[20:]])
    assert [(d["offset"], d["source_topic"]) for d in h.dead_letters] == [(20, "system-metrics")]
    assert "workload nan is not a finite non-negative number" in h.dead_letters[0]["reason"]
    assert transitions(h) == [("nba-7", "HighCpu", "critical", "firing")]
