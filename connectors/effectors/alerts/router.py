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

Every operator-relevant event is an Alert record on ``alerts``, whoever produced it (health rules, breakers,
the scaling step's emergency cuts, the scaler's failed commands, the deployments step, the publisher's held
accounts, the watchdog): the router notifies any ``alertname``/``severity`` the same way. An event alert
(label ``notify=once``, see :mod:`streams.runtime.alerts`) is notified once and then forgotten. A cancelled
silence (``cancelled: true``) stops muting at once. ``dead-letters`` are counted per source topic and summed up
in one ``DeadLetters`` alert per topic at most every ``dead_letter_interval`` seconds.
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
from streams.runtime.alerts import NOTIFY_ONCE, event_alert

log = logging.getLogger(__name__)
GROUP_ID = "wirereport-alert-router"
SILENCES_CATCH_UP_SECONDS = 10.0


class AlertRouter(Effector):
    """See the module docstring. ``clock`` returns epoch seconds (injectable for tests)."""

    name = "alert-router"
    topics = ("alerts", "silences", "dead-letters")
    positioned = ("alerts", "dead-letters")  # read from the router's stored positions (silences: from the start)
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
        dead_letter_interval: float = 600.0,
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
        self.dead_letter_interval = dead_letter_interval
        # source topic -> {"count", "reason", "last_sent"}: dead letters not yet summed up in an alert
        self.dead_letter_counts: dict[str, dict[str, Any]] = self.outbox.load("dead_letters", {})
        self.breaker = CircuitBreaker(
            "slack-webhook", breaker, now=lambda: datetime.now(UTC), on_state_change=edge_publisher(self.producer)
        )
        self._client: httpx.Client | None = None

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- the effector's hooks ---------------------------------------------------------------------------
    def start_positions(self) -> Positions:
        """Alerts from the router's own stored positions; silences from the beginning (all of them are state)."""
        stored = positions_from_keys(self.offsets).items()
        return {key: offset for key, offset in stored if key[0] in self.positioned}

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
            elif record.schema == "DeadLetter":
                self.count_dead_letter(record.value)
            elif record.value.get("cancelled"):
                self.grouper.state["silences"].pop(record.value["silence_id"], None)
            else:
                self.grouper.ingest_silence(record.value)

    def commit(self, positions: Positions) -> None:
        kept = {key: offset for key, offset in positions.items() if key[0] in self.positioned}
        self.offsets.update(positions_to_keys(kept))
        state = {"grouper": self.grouper.state, "offsets": self.offsets, "dead_letters": self.dead_letter_counts}
        self.outbox.save(state, [])

    def tick(self, consumed: int) -> None:
        self.summarize_dead_letters()
        self.queue_due()
        self.deliver()
        if self.observer is not None:
            self.observer.alerts_firing(self.grouper.state["alerts"].values())

    # -- dead letters -----------------------------------------------------------------------------------
    def count_dead_letter(self, letter: dict[str, Any]) -> None:
        entry = self.dead_letter_counts.setdefault(letter["source_topic"], {"count": 0, "last_sent": None})
        entry["count"] += 1
        entry["reason"] = letter["reason"][:300]
        entry["agent"] = letter.get("agent") or ""

    def summarize_dead_letters(self) -> None:
        """One ``DeadLetters`` alert per source topic with new dead letters, at most every interval (its id is the
        topic and the time it was summed up: a restart before the state was saved sums the same letters again)."""
        now = self.now_ms()
        for source, entry in sorted(self.dead_letter_counts.items()):
            last = entry["last_sent"]
            if not entry["count"] or (last is not None and now - last < self.dead_letter_interval * 1000):
                continue
            at = datetime.fromtimestamp(now / 1000, UTC)
            alert = event_alert(
                "DeadLetters",
                "warning",
                f"{entry['count']} dead letter(s) from {source} (last by {entry['agent'] or '?'}: {entry['reason']})",
                at,
                f"{source}|{now}",
                value=float(entry["count"]),
                suggestion="See GET /v1/admin/dead-letters; replay the fixed messages with wirereport replay.",
                labels={"source_topic": source},
            )
            self.grouper.ingest_alert(alert, now)
            entry.update(count=0, last_sent=now)

    def forget_events(self, flushed: set[str]) -> None:
        """Event alerts (``notify=once``) of the groups just flushed leave the grouper, notified or muted: an event
        is not repeated, never resolves, and one that happened while silenced is not notified afterwards."""
        alerts = self.grouper.state["alerts"]
        for fp, alert in list(alerts.items()):
            if alert["group"] in flushed and alert["labels"].get("notify") == NOTIFY_ONCE["notify"]:
                del alerts[fp]

    # -- notifications ----------------------------------------------------------------------------------
    def queue_due(self) -> list[dict[str, Any]]:
        """Flush the groups that are due and queue their notifications with the grouper state; return them."""
        now = self.now_ms()
        flushed = {key for key, group in self.grouper.state["groups"].items() if group["next_flush"] <= now}
        notes = self.grouper.flush(now)
        self.forget_events(flushed)
        if not notes:
            return []
        state = {"grouper": self.grouper.state, "dead_letters": self.dead_letter_counts}
        new = self.outbox.save(state, notes)
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
