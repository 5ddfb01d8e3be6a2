"""The alert router's loop: Kafka in, outbox in between, webhook out.

1. Consume ``alerts`` (from the offsets saved in the outbox) and ``silences`` (compacted, from the beginning,
   caught up before the router says it is ready); undecodable messages go to ``dead-letters``.
2. Feed them to the pure :class:`~streams.health.alert_grouping.AlertGrouper` with the wall clock; collect the
   notifications that are due.
3. Write the notifications, the grouper state and the offsets in one SQLite transaction, THEN commit the
   offsets to Kafka (the group ``wirereport-alert-router``, for lag monitoring).
4. Deliver due outbox rows to the webhook in order, through a circuit breaker; a failure is retried with
   exponential backoff (the row stays in the outbox, so nothing is lost while the webhook is down).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Consumer, KafkaException, TopicPartition

from connectors.circuit_breaker import BreakerConfig, CallNotPermitted, CircuitBreaker, edge_publisher
from connectors.effectors.alerts.outbox import Outbox
from connectors.effectors.alerts.slack import WebhookError, post_notification
from connectors.kafka.edge import EdgeProducer, assigned_consumer
from schemas.codec import get_codec
from schemas.exceptions import SchemaError
from streams.health.alert_grouping import AlertGrouper, GroupingConfig

log = logging.getLogger(__name__)
GROUP_ID = "wirereport-alert-router"


class AlertRouter:
    """See the module docstring. ``clock`` returns epoch seconds (injectable for tests)."""

    def __init__(
        self,
        bootstrap: str,
        webhook_url: str,
        outbox_path: Path,
        grouping: GroupingConfig | None = None,
        breaker: BreakerConfig | None = None,
        *,
        retry_initial: float = 1.0,
        retry_max: float = 300.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        echo: Callable[[str], None] = lambda line: print(line, flush=True),
    ):
        self.bootstrap = bootstrap
        self.webhook_url = webhook_url
        self.retry_initial, self.retry_max, self.timeout = retry_initial, retry_max, timeout
        self.clock = clock
        self.echo = echo
        self.codec = get_codec()
        self.outbox = Outbox(outbox_path)
        self.grouper = AlertGrouper(grouping, self.outbox.load("grouper"))
        self.offsets: dict[str, int] = self.outbox.load("offsets", {})
        self.producer = EdgeProducer(bootstrap)
        self.breaker = CircuitBreaker(
            "slack-webhook", breaker, now=lambda: datetime.now(UTC), on_state_change=edge_publisher(self.producer)
        )
        self.consumer: Consumer | None = None

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- Kafka ------------------------------------------------------------------------------------------
    def _open_consumer(self) -> tuple[Consumer, dict[int, int]]:
        """Alerts from the router's own stored positions; silences from the beginning (their high
        watermarks tell when all existing silences are known)."""
        positions = {
            ("alerts", int(key.split(":")[1])): offset
            for key, offset in self.offsets.items()
            if key.startswith("alerts:")
        }
        consumer = assigned_consumer(self.bootstrap, ["alerts", "silences"], positions, group_id=GROUP_ID)
        silence_highs = {}
        for tp in consumer.assignment():
            if tp.topic == "silences":
                low, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)
                if high > low:
                    silence_highs[tp.partition] = high
        return consumer, silence_highs

    def _dead_letter(self, msg, reason: str) -> None:
        self.producer.dead_letter(msg, reason, "alert-router")

    def step(self, messages: list[Any], flush: bool = True) -> list[dict[str, Any]]:
        """Ingest a batch, flush due groups, persist everything, commit offsets; return the new notifications."""
        now = self.now_ms()
        consumed: dict[int, int] = {}
        for msg in messages:
            if msg.error():
                log.warning("consume error: %s", msg.error().str())
                continue
            name = msg.topic()
            try:
                schema, record = self.codec.decode(msg.value(), ("Alert",) if name == "alerts" else ("Silence",))
            except SchemaError as exc:
                self._dead_letter(msg, str(exc))
            else:
                if schema == "Alert":
                    self.grouper.ingest_alert(record, now)
                else:
                    self.grouper.ingest_silence(record)
            if name == "alerts":
                consumed[msg.partition()] = msg.offset() + 1
        notes = self.grouper.flush(now) if flush else []
        if not consumed and not notes and not messages:
            return []
        for p, off in consumed.items():
            self.offsets[f"alerts:{p}"] = off
        new = self.outbox.save({"grouper": self.grouper.state, "offsets": self.offsets}, notes)
        self.producer.flush()  # dead letters
        if consumed and self.consumer is not None:
            try:
                self.consumer.commit(
                    offsets=[TopicPartition("alerts", p, off) for p, off in consumed.items()], asynchronous=False
                )
            except KafkaException as exc:  # the outbox holds the offsets that count
                log.debug("offset commit failed: %s", exc)
        for note in notes:
            self.echo(
                f"queued notification {note['notification_id']} {note['group_key']} status={note['status']} "
                f"firing={len(note['firing'])} resolved={len(note['resolved'])}"
                + (" (repeat)" if note["repeat"] else "")
            )
        if new < len(notes):
            log.info("%d notification(s) were already queued", len(notes) - new)
        return notes

    # -- delivery ---------------------------------------------------------------------------------------
    async def deliver(self, client: httpx.AsyncClient) -> int:
        """Deliver due outbox rows in order; stop at the first failure (retried later). Return how many."""
        delivered = 0
        for note in self.outbox.due(self.now_ms()):
            try:
                await self.breaker.call(post_notification, client, self.webhook_url, note)
            except CallNotPermitted:
                return delivered
            except WebhookError as exc:
                delay = min(self.retry_max, self.retry_initial * 2 ** note["attempts"])
                self.outbox.mark_failed(note["notification_id"], self.now_ms() + int(delay * 1000), str(exc))
                self.echo(
                    f"delivery of {note['notification_id']} failed (attempt {note['attempts'] + 1}): {exc}; "
                    f"retry in {delay:.1f}s"
                )
                return delivered
            self.outbox.mark_sent(note["notification_id"], self.now_ms())
            delivered += 1
            self.echo(f"delivered notification {note['notification_id']} (attempt {note['attempts'] + 1})")
        return delivered

    async def run(self, stop: asyncio.Event, on_ready: Callable[[], None] | None = None) -> None:
        """Route until ``stop`` is set."""
        self.consumer, silence_highs = self._open_consumer()
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                deadline = time.monotonic() + 10
                while silence_highs and time.monotonic() < deadline and not stop.is_set():
                    messages = await asyncio.to_thread(self.consumer.consume, 500, 0.2)
                    self.step(messages, flush=False)
                    for m in messages:
                        if (
                            m.topic() == "silences"
                            and not m.error()
                            and m.offset() + 1 >= silence_highs.get(m.partition(), 0)
                        ):
                            silence_highs.pop(m.partition(), None)
                counts = self.outbox.counts()
                self.echo(f"alert router ready ({counts['unsent']} unsent, {counts['sent']} sent in the outbox)")
                if on_ready:
                    on_ready()
                while not stop.is_set():
                    messages = await asyncio.to_thread(self.consumer.consume, 500, 0.2)
                    self.step(messages)
                    await self.deliver(client)
        finally:
            self.consumer.close()
            self.consumer = None
            self.producer.flush(10)
            self.outbox.close()
