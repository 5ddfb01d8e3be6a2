"""A Faust sensor that fills a worker's :class:`ProcessMetrics` from what Faust already reports.

Records processed and produce -> decision latency come from ``on_message_out`` (a message every agent finished
with: its offset is committable). Consumer lag is computed when scraped, from the last offset seen per partition
and the consumer's high watermark, so the per-message cost is a dict assignment. Dead letters are counted by the
worker's output observer (:mod:`connectors.observability.worker_outputs`): the agents send them straight to the
producer, which calls no sensor.

The sensor is added only when the worker serves metrics: without it Faust's per-message sensor calls are skipped.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from faust.sensors import Sensor

from connectors.observability.process_metrics import ProcessMetrics


class MetricsSensor(Sensor):
    """Faust sensor -> ``ProcessMetrics`` (records, decision latency, consumer lag)."""

    def __init__(self, metrics: ProcessMetrics, **kwargs):
        super().__init__(**kwargs)
        self.metrics = metrics
        self._last_offset: dict[Any, int] = {}  # TP -> offset of the last message read
        self._processed: dict[str, Any] = {}  # topic -> counter child (labels() is a lookup we do once)
        self._latency: dict[str, Any] = {}
        self.consumer: Any = None

    def on_message_in(self, tp, offset: int, message) -> None:
        self._last_offset[tp] = offset

    def on_message_out(self, tp, offset: int, message) -> None:
        topic = tp.topic
        counter = self._processed.get(topic)
        if counter is None:
            counter = self._processed[topic] = self.metrics.records_processed.labels(self.metrics.process, topic)
            self._latency[topic] = self.metrics.decision_latency.labels(self.metrics.process, topic)
        counter.inc()
        if message.timestamp:
            self._latency[topic].observe(max(time.time() - message.timestamp, 0.0))

    def forget(self, partitions) -> None:
        """Partitions revoked: their lag is another worker's now."""
        for tp in partitions:
            self._last_offset.pop(tp, None)
            with contextlib.suppress(KeyError):
                self.metrics.consumer_lag.remove(tp.topic, str(tp.partition))

    def refresh_lag(self) -> None:
        """Set ``wirereport_consumer_lag`` for every partition read so far (runs in the scrape's thread)."""
        consumer = self.consumer
        if consumer is None:
            return
        for tp, offset in list(self._last_offset.items()):
            try:
                highwater = consumer.highwater(tp)
            except Exception:  # not assigned any more, or the consumer is stopping
                continue
            if highwater is not None:
                self.metrics.lag(tp.topic, tp.partition, highwater - offset - 1)
