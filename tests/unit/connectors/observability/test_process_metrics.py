"""The metric families: names, labels, and the helpers other processes record through."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from connectors.observability.process_metrics import ProcessMetrics, reason_class


def samples(metrics: ProcessMetrics) -> dict[tuple[str, tuple], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_every_family_is_named_wirereport():
    names = {family.name for family in ProcessMetrics("x").registry.collect()}
    assert names and all(name.startswith("wirereport_") for name in names)


def test_records_latency_and_lag_carry_their_labels():
    metrics = ProcessMetrics("worker")
    metrics.processed("plays", 3)
    metrics.decided("plays", record_timestamp=100.0, now=100.25)
    metrics.decided("plays", record_timestamp=200.0, now=199.0)  # a clock ahead of ours: 0, not negative
    metrics.lag("plays", 2, 17)
    found = samples(metrics)
    assert found[("wirereport_records_processed_total", (("process", "worker"), ("topic", "plays")))] == 3
    key = (("process", "worker"), ("topic", "plays"))
    assert found[("wirereport_decision_latency_seconds_count", key)] == 2
    assert found[("wirereport_decision_latency_seconds_sum", key)] == pytest.approx(0.25)
    assert found[("wirereport_consumer_lag", (("partition", "2"), ("topic", "plays")))] == 17


def test_tweets_budget_scaling_alerts_breakers():
    metrics = ProcessMetrics("publisher")
    metrics.tweet("nfl-main", "posted")
    metrics.tweet("nfl-main", "posted")
    metrics.tweet("nfl-main", "held")
    metrics.budget_left("nfl-main", 14)
    metrics.scaling_decision("NBA", "up")
    metrics.scaling_failure("NBA", TimeoutError("k8s API"))
    metrics.alerts("HighCPU", "critical", 2)
    metrics.breaker("x-api", "HALF_OPEN")
    found = samples(metrics)
    assert (
        found[("wirereport_tweets_total", (("account", "nfl-main"), ("outcome", "posted"), ("process", "publisher")))]
        == 2
    )
    assert (
        found[("wirereport_tweets_total", (("account", "nfl-main"), ("outcome", "held"), ("process", "publisher")))]
        == 1
    )
    assert found[("wirereport_tweet_budget_remaining", (("account", "nfl-main"),))] == 14
    assert (
        found[
            ("wirereport_scaling_decisions_total", (("direction", "up"), ("league", "NBA"), ("process", "publisher")))
        ]
        == 1
    )
    assert found[("wirereport_scaling_failures_total", (("league", "NBA"), ("reason", "TimeoutError")))] == 1
    assert found[("wirereport_alerts_firing", (("alertname", "HighCPU"), ("severity", "critical")))] == 2
    assert found[("wirereport_circuit_breaker_state", (("breaker", "x-api"),))] == 1
    with pytest.raises(ValueError, match="tweet outcome"):
        metrics.tweet("nfl-main", "liked")
    with pytest.raises(ValueError, match="breaker state"):
        metrics.breaker("x-api", "ajar")


def test_dead_letter_reasons_are_short_classes_not_free_text():
    metrics = ProcessMetrics("worker")
    metrics.dead_letter("plays", "invalid play: home_score -3 is negative")
    metrics.dead_letter("plays", "invalid play: away_score -1 is negative")
    metrics.dead_letter("plays", ValueError("boom"))
    found = samples(metrics)
    assert found[("wirereport_dead_letters_total", (("reason", "invalid_play"), ("topic", "plays")))] == 2
    assert found[("wirereport_dead_letters_total", (("reason", "ValueError"), ("topic", "plays")))] == 1


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("invalid system metrics: cpu_percent 120", "invalid_system_metrics"),
        ("schema Foo is not allowed here (expected Play)", "schema_foo_is_not_allowed_here"),
        ("", "unknown"),
        (":::", "unknown"),
        ("x" * 100, "x" * 40),
        (KeyError("k"), "KeyError"),
    ],
)
def test_reason_class(reason, expected):
    assert reason_class(reason) == expected


def test_one_registry_per_process_name_and_separate_registries():
    assert ProcessMetrics.for_process("unit-a") is ProcessMetrics.for_process("unit-a")
    assert ProcessMetrics.for_process("unit-a").registry is not ProcessMetrics.for_process("unit-b").registry


def test_ready_and_build_info():
    metrics = ProcessMetrics("agent")
    assert samples(metrics)[("wirereport_ready", (("process", "agent"),))] == 0
    metrics.set_ready(True)
    found = samples(metrics)
    assert found[("wirereport_ready", (("process", "agent"),))] == 1
    assert next(k for k in found if k[0] == "wirereport_build_info")[1][0] == ("process", "agent")
