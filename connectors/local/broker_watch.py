"""A running worker notices a broker that came back without what it read.

Faust resets a consumer whose position is out of range to the new beginning without a word, and a changelog
the broker lost is only noticed when a worker recovers its tables (:mod:`streams.runtime.changelog_catchup`):
a worker living through a broker restart would go on as if nothing happened. Every ``CHECK_SECONDS`` this
compares the offsets the worker committed with what the broker holds (:mod:`connectors.kafka.lost_data`), and
on a loss says so once: an error line and ``app.broker_lost`` (``/ready`` false with the reason); every loss the
app notices (this check, or a table recovery) also sends a ``BrokerDataLost`` alert. The way back is the broker-loss runbook: ``wirereport topics create`` and a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time

import faust
from confluent_kafka import KafkaException

from connectors.kafka.edge import EdgeProducer, new_consumer
from connectors.kafka.lost_data import CHECK_SECONDS, Lost, Positions, describe, lost_positions

log = logging.getLogger(__name__)


class BrokerPositionsCheck:
    """The blocking part (run in a thread): the committed positions against the broker; the losses not yet
    reported."""

    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap
        self.reported: set[tuple[str, int, int]] = set()
        self._consumer = None

    def new_losses(self, committed: Positions) -> Lost:
        if self._consumer is None:
            self._consumer = new_consumer(self.bootstrap)
        lost = lost_positions(self._consumer, self.bootstrap, committed)
        fresh = {key: seen for key, seen in lost.items() if (*key, seen[0]) not in self.reported}
        self.reported.update((*key, seen[0]) for key, seen in fresh.items())
        return fresh

    def alert(self, summary: str) -> None:
        """A ``BrokerDataLost`` alert (a new producer: one that lived through the loss is refused by the new broker)."""
        from connectors.effectors.base import broker_lost_alert

        try:
            with EdgeProducer(self.bootstrap) as producer:
                producer.send("alerts", broker_lost_alert("worker", summary, time.time()))
        except Exception as exc:  # the log line said it already
            log.warning("broker-loss alert not delivered: %s", exc)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


def watch_broker_positions(app: faust.App, bootstrap: str) -> BrokerPositionsCheck:
    """Register the check on ``app`` (before it starts), and an alert for every loss the app notices (this check,
    or a table whose changelog came back empty), at most one per ``CHECK_SECONDS``."""
    check = BrokerPositionsCheck(bootstrap)
    last_alert = [float("-inf")]

    def alert(reason: str) -> None:
        now = time.monotonic()
        if now - last_alert[0] < CHECK_SECONDS:
            return
        last_alert[0] = now
        asyncio.get_running_loop().run_in_executor(None, check.alert, reason)

    callbacks = getattr(app, "on_broker_lost", None)
    if callbacks is not None:
        callbacks.append(alert)

    @app.timer(CHECK_SECONDS, name="broker-positions-check")
    async def check_broker_positions() -> None:
        consumer = getattr(app, "_consumer", None)
        if consumer is None:
            return
        committed = {
            (tp.topic, tp.partition): offset for tp, offset in list(consumer._committed_offset.items()) if offset
        }
        if not committed:
            return
        loop = asyncio.get_running_loop()
        try:
            lost = await loop.run_in_executor(None, check.new_losses, committed)
        except KafkaException as exc:  # the broker cannot tell now (down, topics not re-created): next time
            log.debug("broker check: %s", exc)
            return
        if not lost:
            return
        summary = describe(lost)
        reason = f"committed position(s) {summary} are not in the topics"
        log.error(
            "the broker lost data (restarted empty or topics re-created): %s; run `wirereport topics create` and"
            " restart the worker: it rebuilds its tables and budgets from what the broker and the publisher hold",
            reason,
        )
        broker_lost = getattr(app, "broker_lost", None)
        if broker_lost is not None:
            broker_lost(reason)  # not ready, with the reason, and the alert

    return check
