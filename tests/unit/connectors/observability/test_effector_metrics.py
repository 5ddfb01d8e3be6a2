"""The effector base's metrics: a round's records, latency, lag and dead letters; readiness; domain outcomes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError

from connectors.effectors.base import Effector, Record
from connectors.observability.effector_metrics import EffectorObserver
from connectors.observability.metrics_server import Readiness
from connectors.observability.process_metrics import ProcessMetrics
from schemas.codec import get_codec


def value(metrics: ProcessMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


class FakeError:
    def __init__(self, code: int):
        self._code = code

    def code(self) -> int:
        return self._code

    def str(self) -> str:
        return f"error {self._code}"


class FakeMessage:
    def __init__(self, topic: str, partition: int, offset: int, value: bytes = b"", stamp_ms: int = 0, error=None):
        self._topic, self._partition, self._offset, self._value = topic, partition, offset, value
        self._stamp, self._error = stamp_ms, error

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes:
        return b"k"

    def headers(self):
        return None

    def timestamp(self) -> tuple[int, int]:
        return (1, self._stamp) if self._stamp else (0, -1)

    def error(self):
        return self._error


class FakeConsumer:
    """Hands out prepared batches; high watermark 10 on every partition."""

    def __init__(self, batches: list[list[FakeMessage]]):
        self.batches = batches

    def consume(self, n: int, timeout: float) -> list[FakeMessage]:
        return self.batches.pop(0) if self.batches else []

    def get_watermark_offsets(self, tp, cached: bool = False) -> tuple[int, int]:
        return 0, 10

    def assignment(self):
        return []

    def commit(self, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


class FakeProducer:
    def __init__(self):
        self.letters: list[tuple[Any, str, str]] = []

    def dead_letter(self, msg, reason: str, agent: str) -> None:
        self.letters.append((msg, reason, agent))

    def flush(self, timeout: float = 30.0) -> None:
        pass


class Commands(Effector):
    name = "test-effector"
    topics = ("scaling-commands",)

    def __init__(self, consumer: FakeConsumer):
        super().__init__("localhost:1", FakeProducer())
        self._consumer = consumer
        self.handled: list[Record] = []

    def start_positions(self):
        return {}

    def handle(self, records: list[Record]) -> None:
        self.handled.extend(records)

    def commit(self, positions) -> None:
        pass


def command(cid: str) -> bytes:
    return get_codec().encode(
        "ScalingCommand",
        {
            "command_id": cid,
            "league": "NBA",
            "agents_before": 1,
            "agents_after": 2,
            "action": "scale_up",
            "reason": "load",
            "forecast": None,
            "forecast_only": False,
            "decided_at": datetime(2026, 1, 1, tzinfo=UTC),
        },
    )


def test_a_round_counts_records_latency_and_lag_and_dead_letters_by_reason():
    metrics = ProcessMetrics("unit-effector")
    batch = [
        FakeMessage("scaling-commands", 0, 3, command("a"), stamp_ms=1_000),
        FakeMessage("scaling-commands", 0, 4, b"not avro", stamp_ms=1_000),
        FakeMessage("scaling-commands", 1, 0, error=FakeError(KafkaError._PARTITION_EOF)),
    ]
    effector = Commands(FakeConsumer([batch]))
    effector.observe(metrics)
    assert effector.poll_once() == 2
    assert [r.value["command_id"] for r in effector.handled] == ["a"]
    topic = {"process": "unit-effector", "topic": "scaling-commands"}
    assert value(metrics, "wirereport_records_processed_total", **topic) == 2
    assert value(metrics, "wirereport_batch_seconds_count", **topic) == 1
    # stamped at 1 s after the epoch: long ago, so both land in the +Inf bucket only
    assert value(metrics, "wirereport_decision_latency_seconds_count", **topic) == 2
    assert value(metrics, "wirereport_decision_latency_seconds_bucket", le="300.0", **topic) == 0
    # partition 0 read up to offset 4 of 10; partition 1 at its end, offset 0, of 10
    assert value(metrics, "wirereport_consumer_lag", topic="scaling-commands", partition="0") == 5
    assert value(metrics, "wirereport_consumer_lag", topic="scaling-commands", partition="1") == 10
    assert (
        value(metrics, "wirereport_dead_letters_total", topic="scaling-commands", reason="undecodable_scalingcommand")
        == 1
    )


def test_without_metrics_a_round_records_nothing():
    effector = Commands(FakeConsumer([[FakeMessage("scaling-commands", 0, 0, command("a"))]]))
    assert effector.observer is None
    assert effector.poll_once() == 1 and len(effector.handled) == 1


def test_ready_once_started_and_not_ready_when_stopping():
    metrics = ProcessMetrics("unit-ready")
    readiness = Readiness(metrics)
    stop = threading.Event()
    effector = Commands(FakeConsumer([]))
    effector.observe(metrics, readiness)
    seen = []
    effector.tick = lambda consumed: seen.append(readiness.reason) or stop.set()  # type: ignore[method-assign]
    assert readiness.reason == "starting"
    effector.run(stop, on_ready=lambda: seen.append(readiness.ready))
    assert seen == [True, ""]
    assert (readiness.ready, readiness.reason) == (False, "stopping")


def test_receipts_count_as_tweet_outcomes_per_account():
    metrics = ProcessMetrics("unit-receipts")
    observer = EffectorObserver(metrics)
    for status in ("posted", "dry_run", "failed", "duplicate", "held", "skipped_limit"):
        observer.tweet_receipt("nfl-main", status)
    counts = {
        outcome: value(metrics, "wirereport_tweets_total", process=metrics.process, account="nfl-main", outcome=outcome)
        for outcome in ("posted", "failed", "held", "over_limit")
    }
    assert counts == {"posted": 2, "failed": 2, "held": 1, "over_limit": 1}


def test_alerts_firing_per_name_and_severity_go_to_zero_when_resolved():
    metrics = ProcessMetrics("unit-alerts")
    observer = EffectorObserver(metrics)

    def alert(status: str, name: str = "HighCpu", severity: str = "warning") -> dict:
        return {"status": status, "labels": {"alertname": name, "severity": severity}}

    observer.alerts_firing([alert("firing"), alert("firing"), alert("resolved", "ServerDown", "critical")])
    assert value(metrics, "wirereport_alerts_firing", alertname="HighCpu", severity="warning") == 2
    assert value(metrics, "wirereport_alerts_firing", alertname="ServerDown", severity="critical") is None
    observer.alerts_firing([])
    assert value(metrics, "wirereport_alerts_firing", alertname="HighCpu", severity="warning") == 0


def test_a_breaker_state_is_read_when_scraped():
    metrics = ProcessMetrics("unit-breaker")
    breaker = type("Breaker", (), {"name": "x-api", "state": "CLOSED"})()
    EffectorObserver(metrics).watch_breaker(breaker)
    assert value(metrics, "wirereport_circuit_breaker_state", breaker="x-api") == 0
    breaker.state = "OPEN"
    metrics.refresh()
    assert value(metrics, "wirereport_circuit_breaker_state", breaker="x-api") == 2


def test_rolling_limit_left_per_account_from_the_outbox_post_times():
    from connectors.effectors.tweets.rolling_limit import RollingLimit

    class Outbox:
        def __init__(self):
            self.asked = []

        def post_history(self, since: float) -> dict[str, list[float]]:
            self.asked.append(since)
            return {"nfl-main": [since + 10, since + 20]}

    metrics = ProcessMetrics("unit-limits")
    observer = EffectorObserver(metrics)
    observer.tweet_decided("nba-main")  # decided, never posted: the whole limit left
    outbox = Outbox()
    observer.tweet_limits(RollingLimit(17), outbox, now=100_000.0)
    assert outbox.asked == [100_000.0 - 86_400]
    assert value(metrics, "wirereport_tweet_limit_remaining", account="nfl-main") == 15
    assert value(metrics, "wirereport_tweet_limit_remaining", account="nba-main") == 17
    assert (
        value(metrics, "wirereport_tweets_total", process=metrics.process, account="nba-main", outcome="decided") == 1
    )
    observer.tweet_limits(RollingLimit(17), outbox, now=100_001.0)  # read again only after a few seconds
    assert len(outbox.asked) == 1
