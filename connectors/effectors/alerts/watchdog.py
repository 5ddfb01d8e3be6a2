"""``wirereport watchdog``: consumer-group lag above a threshold and processes not ready become alerts.

The simplest real design: one small loop, outside every process it watches (a process that hangs cannot report
itself). Every ``interval`` seconds it reads each configured consumer group's lag with the admin client
(committed offsets against the partitions' end offsets) and GETs each configured ``/ready`` URL, and produces an
Alert on ``alerts`` when a condition starts (firing) or ends (resolved): ``ConsumerLag`` per group and
``ProcessNotReady`` per URL, with deterministic fingerprints, so the alert router groups, silences and notifies
them like the health rules' alerts. What it last sent is its only state: after a restart a condition still
true is sent again as firing, which the router takes as the same alert.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition

from connectors.kafka.admin import admin_client
from connectors.kafka.edge import EdgeProducer, new_consumer
from streams.runtime.alerts import event_fingerprint

log = logging.getLogger(__name__)


def condition_alert(
    alertname: str, subject: str, firing: bool, at: datetime, summary: str, value: float | None, threshold: float | None
) -> dict[str, Any]:
    """An Alert of a condition (firing, later resolved) about ``subject`` (a consumer group, a URL)."""
    label = "consumer_group" if alertname == "ConsumerLag" else "process"
    return {
        "fingerprint": event_fingerprint(alertname, subject),
        "alertname": alertname,
        "server_id": None,
        "league": None,
        "severity": "warning" if alertname == "ConsumerLag" else "critical",
        "status": "firing" if firing else "resolved",
        "value": value,
        "threshold": threshold,
        "summary": summary,
        "suggestion": "Check the process's logs and /health; scale it or restart it." if firing else "",
        "at": at,
        "starts_at": None,
        "labels": {label: subject},
    }


class Watchdog:
    """See the module docstring; ``lag_of`` and ``probe`` are injectable for tests."""

    def __init__(
        self,
        bootstrap: str,
        groups: list[str],
        ready_urls: list[str],
        max_lag: int,
        *,
        timeout: float = 5.0,
        producer: EdgeProducer | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.bootstrap = bootstrap
        self.groups = groups
        self.ready_urls = ready_urls
        self.max_lag = max_lag
        self.timeout = timeout
        self.clock = clock
        self._producer = producer
        self.firing: dict[str, bool] = {}  # fingerprint -> whether its condition was last sent as firing

    @property
    def producer(self) -> EdgeProducer:
        if self._producer is None:
            self._producer = EdgeProducer(self.bootstrap)
        return self._producer

    def lag_of(self, group: str) -> int | None:
        """The group's total lag over the partitions it committed (None if it committed nothing or is unknown)."""
        admin = admin_client(self.bootstrap)
        try:
            future = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group]
            committed = [tp for tp in future.result(timeout=self.timeout).topic_partitions if tp.offset >= 0]
        except KafkaException as exc:
            log.warning("watchdog: offsets of %s: %s", group, exc)
            return None
        if not committed:
            return None
        consumer = new_consumer(self.bootstrap, None)
        try:
            lag = 0
            for tp in committed:
                _, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), self.timeout)
                lag += max(0, high - tp.offset)
            return lag
        finally:
            consumer.close()

    def probe(self, url: str) -> str | None:
        """None if ``url`` answers 2xx, else why not."""
        try:
            response = httpx.get(url, timeout=self.timeout)
        except httpx.HTTPError as exc:
            return f"{exc.__class__.__name__}: {exc}"
        return None if response.is_success else f"answered {response.status_code}"

    def check(self) -> list[dict[str, Any]]:
        """One round: the alerts of the conditions that started or ended since the last round (produced)."""
        now = self.clock()
        alerts = []
        for group in self.groups:
            lag = self.lag_of(group)
            high = lag is not None and lag > self.max_lag
            summary = f"consumer group {group} is {lag} message(s) behind (over {self.max_lag})"
            alerts += self._transition("ConsumerLag", group, high, now, summary, lag, float(self.max_lag))
        for url in self.ready_urls:
            problem = self.probe(url)
            summary = f"{url} not ready: {problem}" if problem else f"{url} ready again"
            alerts += self._transition("ProcessNotReady", url, problem is not None, now, summary, None, None)
        for alert in alerts:
            self.producer.send("alerts", alert)
        if alerts:
            self.producer.flush()
        return alerts

    def _transition(self, name, subject, firing, now, summary, value, threshold) -> list[dict[str, Any]]:
        alert = condition_alert(name, subject, firing, now, summary, None if value is None else float(value), threshold)
        was = self.firing.get(alert["fingerprint"], False)
        if firing == was:
            return []
        self.firing[alert["fingerprint"]] = firing
        return [alert]

    def run(self, stop: threading.Event, interval: float) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                for alert in self.check():
                    print(f"{alert['status']}: {alert['summary']}", flush=True)
            except Exception as exc:  # a broker or URL hiccup: the next round tries again
                log.warning("watchdog round failed: %s", exc)
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
        if self._producer is not None:
            self._producer.flush(5.0)
