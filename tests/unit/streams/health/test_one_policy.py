"""One policy: self-healing and the scaling policy agree on "memory tight" and never ask for opposite actions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.health.remediation import RemediationConfig, remediate_all
from streams.health.rules import HealthConfig, evaluate_sample
from streams.scaling.policy import PolicyConfig, decide
from streams.scaling.state import add_metrics, new_league_state
from streams.settings import Settings

T0 = 1_767_254_400.0  # 2026-01-01 08:00 UTC, an interval start
DOWN = ("scale_down", "emergency_scale_down")


def _memory_warning(config: HealthConfig) -> float:
    [rule] = [r for r in config.rules if r.metric == "memory"]
    return rule.warning


def _settings(monkeypatch, **env) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(f"WIREREPORT_{name.upper()}", str(value))
    return Settings(_env_file=None)


def test_the_policys_memory_limit_is_the_memory_alerts_warning(monkeypatch):
    assert PolicyConfig().max_memory_percent == _memory_warning(HealthConfig()) == 80.0
    settings = _settings(monkeypatch)
    assert PolicyConfig.from_settings(settings).max_memory_percent == _memory_warning(
        HealthConfig.from_settings(settings)
    )
    settings = _settings(monkeypatch, health_memory_warning=75)
    assert PolicyConfig.from_settings(settings).max_memory_percent == 75.0
    assert _memory_warning(HealthConfig.from_settings(settings)) == 75.0
    settings = _settings(monkeypatch, scaling_max_memory_percent=60)  # set on purpose: it wins for the policy only
    assert PolicyConfig.from_settings(settings).max_memory_percent == 60.0


def test_remediation_asks_no_scale_up_where_the_policy_cuts(monkeypatch):
    settings = _settings(monkeypatch)
    assert RemediationConfig.from_settings(settings).scale_up_max_cpu_percent == 90.0
    assert RemediationConfig().scale_up_max_cpu_percent == PolicyConfig().emergency_cpu_percent
    settings = _settings(monkeypatch, scaling_emergency_cpu_percent=85)
    assert RemediationConfig.from_settings(settings).scale_up_max_cpu_percent == 85.0
    assert PolicyConfig.from_settings(settings).emergency_cpu_percent == 85.0


def _sample(i: int, cpu: float) -> dict:
    return {
        "server_id": "nba-1",
        "league": "NBA",
        "observed_at": datetime.fromtimestamp(T0 + 30 * i, UTC),
        "cpu_percent": cpu,
        "memory_percent": 40.0,
        "disk_percent": 20.0,
        "workload": 4.0,
        "active_agents": 0,
        "interval_seconds": 30.0,
    }


# CPU of one league server, one sample every 30 s: busy (warning range), then overloaded, then calm
CPU_TRACE = [60.0] * 3 + [75.0] * 6 + [95.0] * 12 + [93.0, 70.0, 95.0, 50.0] + [40.0] * 10


@pytest.mark.parametrize("trace", [CPU_TRACE, [60.0] * 3 + [95.0] * 20 + [40.0] * 5], ids=["ramp", "jump"])
def test_remediation_and_the_policy_never_ask_for_opposite_actions_at_once(trace):
    health_config, policy_config = HealthConfig(), PolicyConfig(target_utilization=0.5)
    health_state, policy_state = None, new_league_state("NBA", 20)
    cuts: dict[float, str] = {}  # when the policy decided a scale-down, or held the pool in an emergency
    scale_ups: dict[float, str] = {}  # when remediation asked for more agents for the league
    for i, cpu in enumerate(trace):
        sample = _sample(i, cpu)
        health_state, alerts = evaluate_sample(health_state, sample, health_config)
        remediation, commands, _ = remediate_all(health_state.get("remediation"), alerts)
        health_state = {**health_state, "remediation": remediation}
        for command in commands:
            if command["action"] == "request_scale_up":
                assert command["parameters"] == {"league": "NBA"}
                scale_ups[command["issued_at"].timestamp()] = command["command_id"]
        policy_state, closed = add_metrics(policy_state, {**sample, "observed_at": T0 + 30 * i}, 30)
        for interval in closed:
            policy_state, command = decide(
                policy_state,
                interval["t"],
                interval["workload"],
                interval["workload"],
                policy_config,
                cpu_percent=interval["cpu_percent"],
                memory_percent=interval["memory_percent"],
                active_agents=interval["active_agents"],
            )
            emergency = interval["cpu_percent"] > policy_config.emergency_cpu_percent
            if (command and command["action"] in DOWN) or emergency:
                cuts[interval["t"]] = command["action"] if command else "hold"
    assert "emergency_scale_down" in cuts.values()  # the trace does overload the servers
    assert not set(cuts) & set(scale_ups), "remediation asked for more agents while the policy cut"
    if trace is CPU_TRACE:
        assert len(scale_ups) == 1  # the warning while the CPU was at 75%, before any cut: the same direction
