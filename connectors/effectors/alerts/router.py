"""The alert router: Kafka in, outbox in between, webhook out (an :class:`~connectors.effectors.base.Effector`).

1. Consume ``alerts`` (from the offsets saved in the outbox) and ``silences`` (compacted, from the beginning,
   read to its end before the router says it is ready); undecodable messages go to ``dead-letters``.
2. Feed them to the pure :class:`~streams.health.alert_grouping.AlertGrouper` and save the grouper state with
   the offsets in one SQLite transaction, THEN commit the offsets to Kafka (the group ``wirereport-alert-router``,
   for lag monitoring).
3. Each round, flush the groups that are due (wall clock) and queue their notifications in the outbox together
   with the grouper state (one transaction: nothing is queued twice, notification ids are the primary key).
4. Deliver due outbox rows to the webhook in order, through a circuit breaker; a failure is retried with
   exponential backoff (the row stays in the outbox, so nothing is lost while the webhook is down).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from connectors.circuit_breaker import BreakerConfig, CallNotPermitted, CircuitBreaker, edge_publisher
from connectors.effectors.alerts.outbox import Outbox
from connectors.effectors.alerts.slack import WebhookError, post_notification
from connectors.effectors.base import Effector, Positions, Record, positions_from_keys, positions_to_keys
from streams.health.alert_grouping import AlertGrouper, GroupingConfig

log = logging.getLogger(__name__)
GROUP_ID = "wirereport-alert-router"
SILENCES_CATCH_UP_SECONDS = 10.0


class AlertRouter(Effector):
    """See the module docstring. ``clock`` returns epoch seconds (injectable for tests)."""

    name = "alert-router"
    topics = ("alerts", "silences")
    group_id = GROUP_ID

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
        super().__init__(bootstrap)
        self.webhook_url = webhook_url
        self.retry_initial, self.retry_max, self.timeout = retry_initial, retry_max, timeout
        self.clock = clock
        self.echo = echo
        self.outbox = Outbox(outbox_path)
        self.grouper = AlertGrouper(grouping, self.outbox.load("grouper"))
        self.offsets: dict[str, int] = self.outbox.load("offsets", {})
        self.breaker = CircuitBreaker(
            "slack-webhook", breaker, now=lambda: datetime.now(UTC), on_state_change=edge_publisher(self.producer)
        )
        self._client: httpx.Client | None = None

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- the effector's hooks ---------------------------------------------------------------------------
    def start_positions(self) -> Positions:
        """Alerts from the router's own stored positions; silences from the beginning (all of them are state)."""
        return {key: offset for key, offset in positions_from_keys(self.offsets).items() if key[0] == "alerts"}

    def on_start(self) -> bool:
        """Every existing silence is known before the router says it is ready (no group is flushed meanwhile)."""
        silences = [(tp.topic, tp.partition) for tp in self.consumer.assignment() if tp.topic == "silences"]
        if not self.read_to_end(silences, timeout=SILENCES_CATCH_UP_SECONDS):
            return False
        counts = self.outbox.counts()
        self.echo(f"alert router ready ({counts['unsent']} unsent, {counts['sent']} sent in the outbox)")
        return True

    def handle(self, records: list[Record]) -> None:
        now = self.now_ms()
        for record in records:
            if record.schema == "Alert":
                self.grouper.ingest_alert(record.value, now)
            else:
                self.grouper.ingest_silence(record.value)

    def commit(self, positions: Positions) -> None:
        alerts = {key: offset for key, offset in positions.items() if key[0] == "alerts"}
        self.offsets.update(positions_to_keys(alerts))
        self.outbox.save({"grouper": self.grouper.state, "offsets": self.offsets}, [])

    def tick(self, consumed: int) -> None:
        self.queue_due()
        self.deliver()
        if self.observer is not None:
            self.observer.alerts_firing(self.grouper.state["alerts"].values())

    # -- notifications ----------------------------------------------------------------------------------
    def queue_due(self) -> list[dict[str, Any]]:
        """Flush the groups that are due and queue their notifications with the grouper state; return them."""
        notes = self.grouper.flush(self.now_ms())
        if not notes:
            return []
        new = self.outbox.save({"grouper": self.grouper.state}, notes)
        for note in notes:
            self.echo(
                f"queued notification {note['notification_id']} {note['group_key']} status={note['status']} "
                f"firing={len(note['firing'])} resolved={len(note['resolved'])}"
                + (" (repeat)" if note["repeat"] else "")
            )
        if new < len(notes):
            log.info("%d notification(s) were already queued", len(notes) - new)
        return notes

    def deliver(self) -> int:
        """Deliver due outbox rows in order; stop at the first failure (retried later). Return how many."""
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout)
        delivered = 0
        for note in self.outbox.due(self.now_ms()):
            try:
                self._post(note)
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

    def _post(self, note: dict[str, Any]) -> None:
        """One POST through the breaker (``CallNotPermitted`` while it is open): a webhook failure counts against
        the webhook; any other exception gives the permission back without an outcome."""
        breaker = self.breaker
        breaker.acquire()
        started = breaker.clock()
        try:
            post_notification(self._client, self.webhook_url, note)
        except WebhookError:
            breaker.on_error(breaker.clock() - started)
            raise
        except BaseException:
            breaker.release()
            raise
        breaker.on_success(breaker.clock() - started)

    def close(self) -> None:
        super().close()
        if self._client is not None:
            self._client.close()
            self._client = None
        self.outbox.close()
