"""The tweet publisher: ``tweet-commands`` → SQLite outbox → X API v2 (or a dry-run log).

Consumes with confluent-kafka. Positions are stored in the outbox together with the commands (and then
committed to the consumer group), so a restart resumes right after what is stored: nothing lost, nothing
stored twice. Each command is posted with its own account's OAuth 1.0a credentials (``AccountPoster``; the
legacy ``WIREREPORT_X_BEARER_TOKEN`` or the dry-run log when no account is configured), never beyond the
account's limit in any rolling 24 hours (the outbox caps on acceptance, the poster again before each request).
See :mod:`connectors.effectors.tweets.delivery` for what each outcome does. ``account`` runs the publisher of
one account: its own outbox file and consumer positions; the commands of other accounts are passed over.
Undecodable messages go to ``dead-letters``. Each outcome becomes a TweetReceipt on ``tweet-receipts``, each
account hold an Alert on ``alerts`` (both from the outbox: re-sent until acknowledged). X API calls go through
the ``x-api`` circuit breaker: while it is OPEN no call is made and the commands wait in the outbox.
Operator controls (``publisher-controls``: retry, cancel, pause, resume) are read alongside the commands and
applied to the outbox in the same transaction (see :mod:`connectors.effectors.tweets.controls`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.circuit_breaker import CircuitBreaker, breaker_from_settings
from connectors.effectors.base import Effector, Record
from connectors.effectors.tweets import controls
from connectors.effectors.tweets.accounts import AccountPoster, AccountsError, accounts_from_settings
from connectors.effectors.tweets.delivery import RetryPolicy, Sender, deliver_due, held_alert
from connectors.effectors.tweets.outbox import Outbox, Pending, StoreResult
from connectors.effectors.tweets.rolling_limit import RollingLimit
from connectors.effectors.tweets.x_client import PostedTweet, XClient
from connectors.exceptions import BrokerUnavailable
from connectors.kafka.edge import EdgeProducer
from schemas.json_form import to_json
from streams.games.tweet_budget import local_day

log = logging.getLogger(__name__)

TOPIC = "tweet-commands"
GROUP_ID = "wirereport-tweet-publisher"
_ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

__all__ = ["DryRunSender", "RetryPolicy", "TweetPublisher", "XSender", "build_publisher", "deliver_due"]


class DryRunSender:
    """Appends each tweet as a JSON line to a log instead of posting it."""

    receipt_status = "dry_run"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def post(self, pending: Pending) -> PostedTweet:
        line = {
            "command_id": pending.command_id,
            "account": pending.account,
            "text": pending.text,
            "game_id": pending.record.get("game_id"),
            "play_id": pending.record.get("play_id"),
            "posted_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        with open(self.path, "a") as fh:
            fh.write(json.dumps(line) + "\n")
            fh.flush()
        return PostedTweet(tweet_id=f"dryrun-{pending.command_id}", text=pending.text)


class XSender:
    """Posts through the X API v2 with one client for every account (the legacy bearer token)."""

    receipt_status = "posted"

    def __init__(self, client: XClient) -> None:
        self.client = client

    def post(self, pending: Pending) -> PostedTweet:
        return self.client.post_tweet(pending.text)

    def close(self) -> None:
        self.client.close()


def receipt_record(row: dict[str, Any]) -> dict[str, Any]:
    """The TweetReceipt of an outbox receipt row."""
    return {
        "command_id": row["command_id"],
        "account": row["account"],
        "status": row["status"],
        "tweet_id": row["tweet_id"],
        "attempts": int(row["attempts"]),
        "detail": (row["detail"] or "")[:500],
        "at": datetime.fromtimestamp(row["at"], UTC),
    }


class TweetPublisher(Effector):
    """Consumes ``tweet-commands`` into the outbox and delivers what is due (of ``account`` only, when set)."""

    name = "tweet-publisher"
    topics = (TOPIC, controls.TOPIC)
    group_id = GROUP_ID

    def __init__(
        self,
        bootstrap: str,
        outbox: Outbox,
        sender: Sender,
        *,
        limit: RollingLimit | int = 17,
        tz: str = "America/New_York",
        policy: RetryPolicy | None = None,
        batch_size: int = 500,
        breaker: CircuitBreaker | None = None,
        producer: EdgeProducer | None = None,
        clock: Callable[[], float] = time.time,
        account: str | None = None,
    ) -> None:
        super().__init__(bootstrap, producer)
        self.outbox = outbox
        self.sender = sender
        self.limit = limit if isinstance(limit, RollingLimit) else RollingLimit(limit)
        self.tz = tz
        self.policy = policy or RetryPolicy()
        self.batch_size = batch_size
        self.breaker = breaker
        self.clock = clock
        self.account = account
        if account is not None:
            self.group_id = f"{GROUP_ID}-{account}"
        self.stats = {"consumed": 0, "queued": 0, "duplicate": 0, "over_limit": 0, "dead_letters": 0}
        self.stats.update({"posted": 0, "retry": 0, "waiting": 0, "held": 0, "duplicate_content": 0})
        self.stats.update({"failed": 0, "blocked": 0, "receipts": 0, "alerts": 0, "other_accounts": 0})
        self.stats.update({"paused": 0, "controls_applied": 0, "controls_refused": 0, "controls_unchanged": 0})
        self.stats["controls_duplicate"] = 0
        self._accepted: list[tuple[str, Any]] = []  # ("command", (command, day)) or ("control", control)
        self._trace_contexts = None  # command_id -> its record's headers, when tracing (see trace)

    # -- the effector's hooks: commands and positions go into the outbox in one transaction ------------
    def start_positions(self) -> dict[tuple[str, int], int]:
        return self.outbox.positions()

    def on_start(self) -> bool:
        self.requeue_held()
        return True

    def on_positions_lost(self, lost: dict[tuple[str, int], tuple[int, int]]) -> None:
        # the broker lost tweet-receipts too: what was posted is published again (the games worker rebuilds its
        # budgets from it, the API its publish status)
        log.warning("%s: sending %d tweet receipt(s) again", self.name, self.outbox.resend_receipts())

    def observe(self, metrics, readiness=None) -> None:
        super().observe(metrics, readiness)
        if self.breaker is not None:
            self.observer.watch_breaker(self.breaker)

    def trace(self, tracing) -> None:
        """Post each command in a span continuing the trace its record's headers carry (``tracing`` enabled)."""
        from connectors.observability.traced_sender import TraceContexts, TracedSender

        self._trace_contexts = TraceContexts()
        self.sender = TracedSender(self.sender, tracing, self._trace_contexts)

    def requeue_held(self) -> int:
        """Try the held accounts once more (a restart is how fixed credentials are taken up)."""
        return self.outbox.requeue_held()

    def handle(self, records: list[Record]) -> None:
        for record in records:
            if self.account is not None and record.value["account"] != self.account:
                self.stats["other_accounts"] += 1  # another account's publisher posts it
                continue
            if record.topic == controls.TOPIC:
                self._accepted.append(("control", record.value))
                continue
            command = to_json("TweetCommand", record.value)
            if self.observer is not None:
                self.observer.tweet_decided(record.value["account"])
            if self._trace_contexts is not None:
                self._trace_contexts.remember(record.value["command_id"], record.message.headers())
            self._accepted.append(("command", (command, local_day(record.value["occurred_at"], self.tz))))

    def commit(self, positions: dict[tuple[str, int], int]) -> None:
        accepted, self._accepted = self._accepted, []
        result = self.outbox.store(accepted, self.limit, self.clock(), positions)
        for key, n in result.counts.items():
            self.stats[key] += n
        self.controls_applied(result)

    def poll_once(self, timeout: float | None = None) -> int:
        """Store one batch of commands (and their positions) in the outbox; returns messages consumed."""
        consumed = super().poll_once(timeout)
        self.stats["consumed"] += consumed
        return consumed

    def invalid_reason(self, schema: str, value: dict[str, Any]) -> str | None:
        return controls.invalid_reason(value) if schema == "PublisherControl" else None

    # -- operator controls ------------------------------------------------------------------------------
    def controls_applied(self, result: StoreResult) -> None:
        """Log each control's outcome; a retried held command is tried again even if the poster held its account
        (the operator says its credentials were fixed)."""
        for outcome in result.controls:
            self.stats[f"controls_{outcome.outcome}"] += 1
            what = f"{outcome.action} {outcome.command_id or outcome.account} ({outcome.control_id})"
            if outcome.outcome == "refused":
                log.warning("control %s refused: %s", what, outcome.detail)
            elif outcome.outcome != "duplicate":
                log.info("control %s %s: %s", what, outcome.outcome, outcome.detail)
            release = getattr(self.sender, "release", None)
            if outcome.action == "retry" and outcome.outcome == "applied" and release is not None:
                release(outcome.account)

    def on_dead_letter(self, place: str, reason: str) -> None:
        super().on_dead_letter(place, reason)
        self.stats["dead_letters"] += 1

    def tick(self, consumed: int) -> None:
        self.deliver_once()
        self.send_receipts()
        self.send_alerts()
        if self.observer is not None:
            self.observer.tweet_limits(self.limit, self.outbox, self.clock())

    # -- delivery ---------------------------------------------------------------------------------------
    def deliver_once(self) -> dict[str, int]:
        changes = len(self.breaker.transitions) if self.breaker else 0
        counts = deliver_due(self.outbox, self.sender, self.policy, self.clock, self.breaker)
        for key, n in counts.items():
            self.stats[key] += n
        if self.breaker and len(self.breaker.transitions) != changes and self._producer is not None:
            try:  # the breaker produced its BreakerState and alert through our producer
                self._producer.flush()
            except BrokerUnavailable as exc:
                log.warning("breaker state not delivered: %s", exc)
        return counts

    def send_receipts(self) -> int:
        """Produce the outbox's unsent receipts to ``tweet-receipts``; mark them sent once acknowledged."""
        sent = 0
        while rows := self.outbox.unsent_receipts():
            for row in rows:
                self.producer.send("tweet-receipts", receipt_record(row))
            try:
                self.producer.flush()
            except BrokerUnavailable as exc:  # they stay unsent and go out on a later round
                log.warning("tweet receipts not delivered yet: %s", exc)
                break
            self.outbox.mark_receipts_sent(rows)
            sent += len(rows)
            if self.observer is not None:
                for row in rows:
                    self.observer.tweet_receipt(row["account"], row["status"])
        self.stats["receipts"] += sent
        return sent

    def send_alerts(self) -> int:
        """Produce the unsent account-hold alerts to ``alerts``; mark them sent once acknowledged."""
        rows = self.outbox.unsent_alerts()
        if not rows:
            return 0
        for row in rows:
            self.producer.send("alerts", held_alert(row))
        try:
            self.producer.flush()
        except BrokerUnavailable as exc:  # they stay unsent and go out on a later round
            log.warning("account hold alerts not delivered yet: %s", exc)
            return 0
        self.outbox.mark_alerts_sent(rows)
        self.stats["alerts"] += len(rows)
        return len(rows)

    def close(self) -> None:
        super().close()
        self.outbox.close()
        close_sender = getattr(self.sender, "close", None)
        if close_sender is not None:
            close_sender()


@dataclass(frozen=True)
class PublisherSetup:
    publisher: TweetPublisher
    mode: str  # what the publisher posts with, for its ready line


def outbox_path(data_dir: str | Path, account: str | None) -> Path:
    """Each account's publisher keeps its own outbox (and positions); the all-accounts one its historic file."""
    return Path(data_dir) / (f"tweets-{account}.sqlite" if account else "tweet-outbox.sqlite3")


def build_publisher(settings, bootstrap: str | None = None, account: str | None = None) -> TweetPublisher:
    """A publisher from the settings (see :func:`setup_publisher`)."""
    return setup_publisher(settings, bootstrap, account).publisher


def setup_publisher(settings, bootstrap: str | None = None, account: str | None = None) -> PublisherSetup:
    """The publisher of ``account`` (default: every account) from the settings: each account's own OAuth 1.0a
    credentials when any account is configured, else the legacy bearer token, else the dry-run log. Raises
    AccountsError for an unusable accounts configuration or an ``account`` that is not declared."""
    if account is not None and not _ACCOUNT_NAME.match(account):
        raise AccountsError(f"--account {account[:64]!r}: must be 1-64 letters, digits, '.', '_' or '-'")
    accounts = accounts_from_settings(settings)
    if account is not None and len(accounts) and account not in accounts.declared:
        raise AccountsError(f"--account {account!r} is not a declared X account ({', '.join(accounts.declared)})")
    data_dir = Path(settings.data_dir)
    limit = RollingLimit(settings.tweets_per_day)
    outbox = Outbox(outbox_path(data_dir, account))
    bootstrap = bootstrap or settings.bootstrap
    producer = EdgeProducer(bootstrap)
    token = settings.x_bearer_token.get_secret_value() if settings.x_bearer_token else None
    sender: Sender
    breaker = None
    if len(accounts):
        history = outbox.post_history(time.time() - limit.window_seconds)
        sender = AccountPoster.from_accounts(
            accounts, limit, base_url=settings.x_api_base_url, timeout=settings.x_api_timeout, history=history
        )
        breaker = x_api_breaker(settings, producer)
        posting = [a for a in accounts if account in (None, a)]
        unconfigured = [a for a in accounts.unconfigured if account in (None, a)]
        mode = "; ".join(
            part
            for part in (
                f"X API as {', '.join(posting)}" if posting else "",
                f"held, no credentials: {', '.join(unconfigured)}" if unconfigured else "",
            )
            if part
        )
    elif token:
        sender = XSender(XClient(token, settings.x_api_base_url, settings.x_api_timeout))
        breaker = x_api_breaker(settings, producer)
        mode = "X API with the bearer token"
    else:
        sender = DryRunSender(data_dir / "tweets-dryrun.jsonl")
        mode = f"dry run to {data_dir / 'tweets-dryrun.jsonl'}"
    if account is not None:
        mode += f"; account {account} only"
    policy = RetryPolicy(
        settings.publisher_retry_base_seconds, settings.publisher_retry_max_seconds, settings.publisher_max_attempts
    )
    publisher = TweetPublisher(
        bootstrap,
        outbox,
        sender,
        limit=limit,
        tz=settings.tweet_timezone,
        policy=policy,
        breaker=breaker,
        producer=producer,
        account=account,
    )
    return PublisherSetup(publisher, mode)


def x_api_breaker(settings, producer: EdgeProducer | None) -> CircuitBreaker:
    """The ``x-api`` breaker: the ``WIREREPORT_BREAKER_*`` settings, with a window sized for a few tweets an hour."""
    return breaker_from_settings(
        "x-api",
        producer,
        settings,
        sliding_window_size=settings.x_breaker_sliding_window_size,
        minimum_number_of_calls=settings.x_breaker_minimum_number_of_calls,
        wait_duration_in_open_state=settings.x_breaker_wait_seconds,
    )
