"""The worker's metrics from its agents' outputs: tweets decided, budgets left, scaling, load and alerts."""

from __future__ import annotations

from connectors.observability.process_metrics import ProcessMetrics
from connectors.observability.worker_outputs import WorkerOutputs


def value(metrics: ProcessMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def alert(fingerprint: str, status: str, name: str = "HighCpu", severity: str = "warning") -> dict:
    return {"fingerprint": fingerprint, "status": status, "alertname": name, "severity": severity}


def test_tweets_decided_and_budget_left_per_account():
    metrics = ProcessMetrics("unit-worker-tweets")
    observe = WorkerOutputs(metrics)
    observe(
        [
            ("tweet-commands", {"account": "nfl-main"}),
            ("tweet-commands", {"account": "nfl-main"}),
            ("tweet-budgets", {"account": "nfl-main", "limit": 17, "used": 2}),
            ("tweet-budgets", {"account": "nfl-main", "limit": 17, "used": 3}),
            ("game-states", {"account": "ignored"}),
        ]
    )
    assert (
        value(metrics, "wirereport_tweets_total", process=metrics.process, account="nfl-main", outcome="decided") == 2
    )
    assert value(metrics, "wirereport_tweet_budget_remaining", account="nfl-main") == 14


def test_scaling_decisions_forecasts_and_agents_per_league():
    metrics = ProcessMetrics("unit-worker-scaling")
    WorkerOutputs(metrics)(
        [
            ("scaling-commands", {"league": "NBA", "action": "scale_up"}),
            ("load-forecasts", {"league": "NBA", "workload": 40.0, "forecast": 55.5, "forecast_upper": None}),
            ("scaling-state", {"league": "NBA", "agents": 4, "active_agents": 3}),
        ]
    )
    assert (
        value(
            metrics, "wirereport_scaling_decisions_total", process=metrics.process, league="NBA", direction="scale_up"
        )
        == 1
    )
    assert value(metrics, "wirereport_load_actual", league="NBA") == 40.0
    assert value(metrics, "wirereport_load_forecast", league="NBA", bound="expected") == 55.5
    assert value(metrics, "wirereport_load_forecast", league="NBA", bound="upper") is None
    assert value(metrics, "wirereport_scaling_agents", league="NBA", kind="desired") == 4
    assert value(metrics, "wirereport_scaling_agents", league="NBA", kind="active") == 3


def test_alerts_firing_follow_their_fingerprints_until_resolved():
    metrics = ProcessMetrics("unit-worker-alerts")
    observe = WorkerOutputs(metrics)
    observe([("alerts", alert("a", "firing")), ("alerts", alert("b", "firing")), ("alerts", alert("a", "firing"))])
    assert value(metrics, "wirereport_alerts_firing", alertname="HighCpu", severity="warning") == 2
    observe([("alerts", alert("a", "resolved")), ("alerts", alert("b", "resolved"))])
    assert value(metrics, "wirereport_alerts_firing", alertname="HighCpu", severity="warning") == 0


def test_server_health_status_and_resources_per_server():
    metrics = ProcessMetrics("unit-worker-health")
    health = {"server_id": "nba-1", "league": "NBA", "status": "critical", "cpu_percent": 97.5}
    WorkerOutputs(metrics)([("server-health", {**health, "memory_percent": 40.0, "disk_percent": None})])
    assert value(metrics, "wirereport_server_status", server_id="nba-1", league="NBA") == 2
    assert value(metrics, "wirereport_server_resource_percent", server_id="nba-1", league="NBA", resource="cpu") == 97.5
    assert (
        value(metrics, "wirereport_server_resource_percent", server_id="nba-1", league="NBA", resource="disk") is None
    )


def test_dead_letters_per_source_topic_and_reason_class():
    metrics = ProcessMetrics("unit-worker-letters")
    letter = {"source_topic": "plays", "reason": "not an Avro single-object encoded message (bad magic bytes)"}
    WorkerOutputs(metrics)([("dead-letters", letter), ("dead-letters", letter)])
    reason = "not_an_avro_single_object_encoded_messag"  # cut at 40 characters: a bounded label
    assert value(metrics, "wirereport_dead_letters_total", topic="plays", reason=reason) == 2
