"""The tweet publisher: ``tweet-commands`` → SQLite outbox → X API v2 (or a dry-run log).

Consumes with confluent-kafka. Positions are stored in the outbox together with the commands (and then
committed to the consumer group), so a restart resumes right after what is stored: nothing lost, nothing
stored twice. Sending retries with exponential backoff (honouring ``retry-after``), gives up on permanent
errors, and never exceeds an account's daily limit (the outbox enforces it on acceptance).
Undecodable messages go to ``dead-letters``. Each outcome becomes a TweetReceipt on ``tweet-receipts`` (from the
outbox: re-sent until acknowledged, keyed by command id). X API calls go through the ``x-api`` circuit breaker:
while it is OPEN no call is made and the commands wait in the outbox.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from connectors.circuit_breaker import CallNotPermitted, CircuitBreaker, breaker_from_settings
from connectors.effectors.base import Effector, Record
from connectors.effectors.tweets.outbox import Outbox, Pending
from connectors.effectors.tweets.x_client import PostedTweet, XApiError, XClient
from connectors.exceptions import BrokerUnavailable
from connectors.kafka.edge import EdgeProducer
from schemas.json_form import to_json
from streams.games.tweet_budget import local_day

log = logging.getLogger(__name__)

TOPIC = "tweet-commands"
GROUP_ID = "wirereport-tweet-publisher"


class Sender(Protocol):
    def post(self, pending: Pending) -> PostedTweet: ...


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
    """Posts through the X API v2."""

    receipt_status = "posted"

    def __init__(self, client: XClient) -> None:
        self.client = client

    def post(self, pending: Pending) -> PostedTweet:
        return self.client.post_tweet(pending.text)


@dataclass
class RetryPolicy:
    base_seconds: float = 1.0
    max_seconds: float = 300.0
    max_attempts: int = 8

    def delay(self, attempts_done: int, retry_after: float | None = None) -> float:
        """Seconds to wait after ``attempts_done`` failed attempts (1, 2, 4 ... capped; retry-after wins)."""
        backoff = min(self.max_seconds, self.base_seconds * 2 ** max(attempts_done - 1, 0))
        return max(backoff, retry_after or 0.0)


def deliver_due(
    outbox: Outbox,
    sender: Sender,
    policy: RetryPolicy,
    clock: Callable[[], float] = time.time,
    breaker: CircuitBreaker | None = None,
) -> dict[str, int]:
    """Try every due command once; returns counts of posted, retry, failed and blocked (breaker OPEN: the
    remaining due commands stay queued, with no attempt counted). Retryable X API errors (network, 429, 5xx)
    count as failures for the breaker; a permanent refusal (400, 403 ...) means the API is up."""
    counts = {"posted": 0, "retry": 0, "failed": 0, "blocked": 0}
    due = outbox.due(clock())
    receipt_status = getattr(sender, "receipt_status", "posted")
    for i, pending in enumerate(due):
        if breaker is not None:
            try:
                breaker.acquire()
            except CallNotPermitted as exc:
                counts["blocked"] = len(due) - i
                log.debug("%s: %d due tweet(s) wait in the outbox", exc, len(due) - i)
                break
        started = time.monotonic()
        try:
            posted = sender.post(pending)
        except XApiError as exc:
            if breaker is not None:
                (breaker.on_error if exc.retryable else breaker.on_success)(time.monotonic() - started)
            attempts = pending.attempts + 1
            if exc.retryable and attempts < policy.max_attempts:
                outbox.mark_retry(pending.command_id, str(exc), clock() + policy.delay(attempts, exc.retry_after))
                counts["retry"] += 1
            else:
                outbox.mark_failed(pending.command_id, str(exc), clock(), "duplicate" if exc.duplicate else "failed")
                counts["failed"] += 1
            log.warning("tweet %s not posted (attempt %d): %s", pending.command_id, attempts, exc)
            continue
        except BaseException:
            if breaker is not None:
                breaker.release()
            raise
        if breaker is not None:
            breaker.on_success(time.monotonic() - started)
        outbox.mark_posted(pending.command_id, posted.tweet_id, clock(), receipt_status)
        counts["posted"] += 1
        log.info("tweeted for %s: %s", pending.account, pending.text)
    return counts


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
    """Consumes ``tweet-commands`` into the outbox and delivers what is due."""

    name = "tweet-publisher"
    topics = (TOPIC,)
    group_id = GROUP_ID

    def __init__(
        self,
        bootstrap: str,
        outbox: Outbox,
        sender: Sender,
        *,
        daily_limit: int = 17,
        tz: str = "America/New_York",
        policy: RetryPolicy | None = None,
        batch_size: int = 500,
        breaker: CircuitBreaker | None = None,
        producer: EdgeProducer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(bootstrap, producer)
        self.outbox = outbox
        self.sender = sender
        self.daily_limit = daily_limit
        self.tz = tz
        self.policy = policy or RetryPolicy()
        self.batch_size = batch_size
        self.breaker = breaker
        self.clock = clock
        self.stats = {"consumed": 0, "queued": 0, "duplicate": 0, "over_limit": 0, "dead_letters": 0}
        self.stats.update({"posted": 0, "retry": 0, "failed": 0, "blocked": 0, "receipts": 0})
        self._accepted: list[tuple[dict[str, Any], str]] = []

    # -- the effector's hooks: commands and positions go into the outbox in one transaction ------------
    def start_positions(self) -> dict[tuple[str, int], int]:
        return self.outbox.positions()

    def handle(self, records: list[Record]) -> None:
        for record in records:
            command = to_json("TweetCommand", record.value)
            self._accepted.append((command, local_day(record.value["occurred_at"], self.tz)))

    def commit(self, positions: dict[tuple[str, int], int]) -> None:
        accepted, self._accepted = self._accepted, []
        counts = self.outbox.accept(accepted, self.daily_limit, time.time(), positions)
        for key, n in counts.items():
            self.stats[key] += n

    def poll_once(self, timeout: float | None = None) -> int:
        """Store one batch of commands (and their positions) in the outbox; returns messages consumed."""
        consumed = super().poll_once(timeout)
        self.stats["consumed"] += consumed
        return consumed

    def on_dead_letter(self, place: str, reason: str) -> None:
        super().on_dead_letter(place, reason)
        self.stats["dead_letters"] += 1

    def tick(self, consumed: int) -> None:
        self.deliver_once()
        self.send_receipts()

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
        self.stats["receipts"] += sent
        return sent

    def close(self) -> None:
        super().close()
        self.outbox.close()


def build_publisher(settings, bootstrap: str | None = None) -> TweetPublisher:
    """A publisher from the settings: X API when a bearer token is set, else the dry-run log."""
    data_dir = Path(settings.data_dir)
    outbox = Outbox(data_dir / "tweet-outbox.sqlite3")
    token = settings.x_bearer_token.get_secret_value() if settings.x_bearer_token else None
    bootstrap = bootstrap or settings.bootstrap
    producer = EdgeProducer(bootstrap)
    sender: Sender
    breaker = None
    if token:
        sender = XSender(XClient(token, settings.x_api_base_url, settings.x_api_timeout))
        breaker = x_api_breaker(settings, producer)
    else:
        sender = DryRunSender(data_dir / "tweets-dryrun.jsonl")
    policy = RetryPolicy(
        settings.publisher_retry_base_seconds, settings.publisher_retry_max_seconds, settings.publisher_max_attempts
    )
    return TweetPublisher(
        bootstrap,
        outbox,
        sender,
        daily_limit=settings.tweets_per_day,
        tz=settings.tweet_timezone,
        policy=policy,
        breaker=breaker,
        producer=producer,
    )


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
