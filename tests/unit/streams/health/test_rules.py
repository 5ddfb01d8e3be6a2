"""Health rules with an injected clock: for-durations, hysteresis, escalation, heartbeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.codec import get_codec
from streams.health.rules import HealthConfig, HealthEvaluator, evaluate_sample, fingerprint, server_health

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def sample(t: float, cpu: float = 10.0, memory: float = 20.0, disk: float = 30.0, server: str = "s1") -> dict:
    return {
        "server_id": server,
        "league": "NBA",
        "observed_at": T0 + timedelta(seconds=t),
        "cpu_percent": cpu,
        "memory_percent": memory,
        "disk_percent": disk,
        "workload": 0.0,
    }


def run(samples: list[dict], config: HealthConfig | None = None) -> list[dict]:
    ev = HealthEvaluator(config)
    out = []
    for s in samples:
        out += ev.process(s)
    return out


def brief(alerts: list[dict]) -> list[tuple]:
    return [(int((a["at"] - T0).total_seconds()), a["alertname"], a["severity"], a["status"]) for a in alerts]


def test_spike_shorter_than_for_never_fires():
    cpu = [10] * 4 + [99] * 11 + [10] * 10  # 99 % for 50 s (< critical for 60 s), 5 s cadence
    assert run([sample(5 * i, c) for i, c in enumerate(cpu)]) == []


def test_sustained_load_fires_once_then_resolves_after_a_minute_clear():
    cpu = [10] * 2 + [80] * 60 + [10] * 20  # 80 % for 300 s at 5 s cadence
    alerts = run([sample(5 * i, c) for i, c in enumerate(cpu)])
    assert brief(alerts) == [(130, "HighCpu", "warning", "firing"), (370, "HighCpu", "warning", "resolved")]
    firing, resolved = alerts
    assert firing["value"] == 80.0 and firing["threshold"] == 70.0
    assert firing["fingerprint"] == resolved["fingerprint"] == fingerprint("HighCpu", "s1", "warning", metric="cpu")
    assert firing["starts_at"] == resolved["starts_at"] == T0 + timedelta(seconds=10)
    assert "Shed load" in firing["suggestion"]
    get_codec().encode("Alert", firing, validate_first=True)


def test_oscillation_around_threshold_does_not_flap():
    # 68/72 alternates: never held 2 min, so never fires
    assert run([sample(5 * i, 72 if i % 2 else 68) for i in range(200)]) == []
    # once firing, values between threshold-5 and threshold keep it firing (hysteresis)
    cpu = [80] * 30 + [67 if i % 2 else 71 for i in range(100)] + [50] * 14
    alerts = run([sample(5 * i, c) for i, c in enumerate(cpu)])
    assert brief(alerts) == [(120, "HighCpu", "warning", "firing"), (5 * 130 + 60, "HighCpu", "warning", "resolved")]


def test_dip_below_threshold_restarts_pending():
    cpu = [80] * 20 + [60] + [80] * 20  # 100 s, a dip, 100 s: never 120 s continuous
    assert run([sample(5 * i, c) for i, c in enumerate(cpu)]) == []


def test_critical_fires_after_one_minute_and_marks_escalation():
    cpu = [75] * 6 + [95] * 30  # warning pending since 0, critical since 30
    alerts = run([sample(5 * i, c) for i, c in enumerate(cpu)])
    assert brief(alerts) == [(90, "HighCpu", "critical", "firing"), (120, "HighCpu", "warning", "firing")]
    assert alerts[0]["labels"]["escalated_from"] == "warning"
    assert alerts[0]["fingerprint"] != alerts[1]["fingerprint"]


def test_memory_and_disk_thresholds_and_config():
    alerts = run([sample(10 * i, memory=96, disk=86) for i in range(14)])
    assert brief(alerts) == [
        (60, "HighMemory", "critical", "firing"),
        (120, "HighMemory", "warning", "firing"),
        (120, "HighDisk", "warning", "firing"),
    ]
    cfg = HealthConfig(warning_for=10, critical_for=10)
    assert brief(run([sample(10 * i, cpu=91) for i in range(2)], cfg)) == [
        (10, "HighCpu", "warning", "firing"),
        (10, "HighCpu", "critical", "firing"),
    ]


def test_heartbeat_loss_fires_at_deadline_and_resolves_on_next_sample():
    ev = HealthEvaluator()
    out = []
    for i in range(6):
        out += ev.process(sample(10 * i))  # 10 s cadence
    out += ev.tick(T0 + timedelta(seconds=80))  # deadline 50 + 30 = 80: not yet past
    assert out == []
    out += ev.tick(T0 + timedelta(seconds=81))
    assert brief(out) == [(80, "ServerDown", "critical", "firing")]
    assert server_health(ev.states["s1"], ev.config)["status"] == "down"
    out += ev.tick(T0 + timedelta(seconds=200))  # fires once
    out += ev.process(sample(300))
    assert brief(out) == [(80, "ServerDown", "critical", "firing"), (300, "ServerDown", "critical", "resolved")]
    assert out[0]["fingerprint"] == out[1]["fingerprint"]
    assert out[1]["value"] == 250.0  # silent for 250 s
    assert server_health(ev.states["s1"], ev.config)["status"] == "ok"
    # the outage was not taken as a reporting interval
    assert ev.states["s1"]["intervals"] == [10.0] * 5


def test_heartbeat_uses_default_interval_and_other_servers_advance_the_clock():
    samples = [sample(0, server="a"), sample(0, server="b")] + [sample(t, server="b") for t in range(30, 200, 30)]
    alerts = run(samples)
    assert brief(alerts) == [(90, "ServerDown", "critical", "firing")]
    assert alerts[0]["server_id"] == "a"


def test_late_sample_without_tick_still_reports_the_outage():
    state = None
    for t in (0, 5, 10, 15):
        state, alerts = evaluate_sample(state, sample(t), HealthConfig())
        assert alerts == []
    state, alerts = evaluate_sample(state, sample(100), HealthConfig())
    assert brief(alerts) == [(30, "ServerDown", "critical", "firing"), (100, "ServerDown", "critical", "resolved")]


def test_duplicate_sample_is_ignored_and_state_is_json_and_health_record_valid():
    import json

    cfg = HealthConfig()
    state, _ = evaluate_sample(None, sample(0, cpu=99), cfg)
    again, alerts = evaluate_sample(state, sample(0, cpu=99), cfg)
    assert alerts == [] and again == state
    assert json.loads(json.dumps(state)) == state
    record = server_health(state, cfg)
    assert record["pending"] == ["cpu:critical", "cpu:warning"]
    get_codec().encode("ServerHealth", record, validate_first=True)
