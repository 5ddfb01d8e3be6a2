"""What every effector's loop reports when its process serves metrics: records processed, batch time, decision
latency, dead letters by source topic and reason, consumer lag per partition, and readiness.

:class:`EffectorObserver` is attached by ``Effector.observe``; the loop calls it once per round (not per record),
so an effector without metrics pays one ``is None`` test a round. Consumer lag is read in the loop's own thread
(the consumer is not shared with the scrape thread): at most once per ``lag_interval`` seconds, from the
positions consumed so far and the high watermarks the consumer cached from its last fetches.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from connectors.observability.process_metrics import ProcessMetrics

log = logging.getLogger(__name__)


class EffectorObserver:
    """Records one effector's rounds into ``metrics`` and says when it is ready through ``readiness``."""

    def __init__(self, metrics: ProcessMetrics, readiness: Any = None, lag_interval: float = 1.0):
        self.metrics = metrics
        self.readiness = readiness
        self.lag_interval = lag_interval
        self._positions: dict[tuple[str, int], int] = {}  # next offset to read, per partition seen
        self._lag_read_at = float("-inf")
        self._firing_labels: set[tuple[str, str]] = set()
        self._accounts: set[str] = set()
        self._limits_read_at = float("-inf")

    def round(self, messages: list[Any], ends: dict[tuple[str, int], int], seconds: float, consumer: Any) -> None:
        """A round's messages (their topics, timestamps and offsets), the partition ends it reached, its duration."""
        if messages:
            now = time.time()
            per_topic = Counter()
            for msg in messages:
                name = msg.topic()
                per_topic[name] += 1
                self._positions[(name, msg.partition())] = msg.offset() + 1
                kind, stamp = msg.timestamp()
                if kind and stamp > 0:
                    self.metrics.decided(name, stamp / 1000.0, now)
            for name, count in per_topic.items():
                self.metrics.processed(name, count)
                self.metrics.batch_time(name, seconds)
        self._positions.update(ends)
        if time.monotonic() - self._lag_read_at >= self.lag_interval:
            self._lag_read_at = time.monotonic()
            self.read_lag(consumer)

    def read_lag(self, consumer: Any) -> None:
        """``wirereport_consumer_lag`` of every partition consumed so far: high watermark - next offset."""
        from confluent_kafka import TopicPartition

        for (name, partition), position in list(self._positions.items()):
            try:
                _, high = consumer.get_watermark_offsets(TopicPartition(name, partition), cached=True)
            except Exception:  # not fetched yet, or the consumer is closing: the next read tries again
                log.debug("no watermark for %s[%d]", name, partition, exc_info=True)
                continue
            if high >= 0:
                self.metrics.lag(name, partition, high - position)

    def dead_letter(self, topic_name: str, reason: str) -> None:
        self.metrics.dead_letter(topic_name, reason)

    def ready(self) -> None:
        if self.readiness is not None:
            self.readiness.set_ready()

    def stopping(self) -> None:
        if self.readiness is not None:
            self.readiness.set_not_ready("stopping")

    # -- domain metrics the effectors add ---------------------------------------------------------------
    def tweet_decided(self, account: str) -> None:
        self._accounts.add(account)
        self.metrics.tweet(account, "decided")

    def tweet_limits(self, limit: Any, outbox: Any, now: float, every: float = 5.0) -> None:
        """``wirereport_tweet_limit_remaining`` of every account posted or decided for: the rolling ``limit`` on
        the outbox's post times (read at most every ``every`` seconds: it is a query)."""
        if time.monotonic() - self._limits_read_at < every:
            return
        self._limits_read_at = time.monotonic()
        history = outbox.post_history(now - limit.window_seconds)
        for account in sorted(self._accounts | history.keys()):
            self.metrics.tweet_limit_remaining.labels(account).set(limit.remaining(history.get(account, ()), now))

    def tweet_receipt(self, account: str, status: str) -> None:
        """A tweet's final outcome from its receipt status (posted, dry_run, failed, duplicate, held,
        skipped_limit)."""
        self.metrics.tweet(account, RECEIPT_OUTCOMES.get(status, "failed"))

    def watch_breaker(self, breaker: Any) -> None:
        """Export ``breaker``'s state when scraped (its ``name`` and ``state``: CLOSED, HALF_OPEN, OPEN)."""
        self.metrics.breaker(breaker.name, breaker.state)
        self.metrics.on_scrape(lambda: self.metrics.breaker(breaker.name, breaker.state))

    def alerts_firing(self, alerts: Iterable[dict[str, Any]]) -> None:
        """Set ``wirereport_alerts_firing`` from the alerts known now (``status`` and ``labels`` of each); a kind
        that stopped firing goes to 0 rather than vanishing, so a dashboard sees it resolve."""
        firing = Counter(
            (a["labels"].get("alertname", "unknown"), a["labels"].get("severity", "unknown"))
            for a in alerts
            if a["status"] == "firing"
        )
        for labels in self._firing_labels - firing.keys():
            self.metrics.alerts(*labels, 0)
        for (alertname, severity), count in firing.items():
            self.metrics.alerts(alertname, severity, count)
        self._firing_labels |= firing.keys()


# A receipt's status -> the tweet outcome it counts as (a dry-run post is a post; a duplicate was refused by X).
RECEIPT_OUTCOMES = {
    "posted": "posted",
    "dry_run": "posted",
    "failed": "failed",
    "duplicate": "failed",
    "held": "held",
    "skipped_limit": "over_limit",
}
