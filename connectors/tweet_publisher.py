"""The tweet publisher: ``tweet-commands`` → SQLite outbox → X API v2 (or a dry-run log).

Consumes with confluent-kafka. Positions are stored in the outbox together with the commands (and then
committed to the consumer group), so a restart resumes right after what is stored: nothing lost, nothing
stored twice. Sending retries with exponential backoff (honouring ``retry-after``), gives up on permanent
errors, and never exceeds an account's daily limit (the outbox enforces it on acceptance).
Undecodable messages go to ``dead-letters``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition

from connectors.edge import EdgeProducer, assigned_consumer
from connectors.tweet_outbox import Outbox, Pending
from connectors.x_client import PostedTweet, XApiError, XClient
from schemas.codec import get_codec
from schemas.exceptions import SchemaError
from schemas.json_form import to_json
from streams.tweet_budget import local_day

log = logging.getLogger(__name__)

TOPIC = "tweet-commands"
GROUP_ID = "wirereport-tweet-publisher"


class Sender(Protocol):
    def post(self, pending: Pending) -> PostedTweet: ...


class DryRunSender:
    """Appends each tweet as a JSON line to a log instead of posting it."""

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
    outbox: Outbox, sender: Sender, policy: RetryPolicy, clock: Callable[[], float] = time.time
) -> dict[str, int]:
    """Try every due command once; returns counts of posted, retry and failed."""
    counts = {"posted": 0, "retry": 0, "failed": 0}
    for pending in outbox.due(clock()):
        try:
            posted = sender.post(pending)
        except XApiError as exc:
            attempts = pending.attempts + 1
            if exc.retryable and attempts < policy.max_attempts:
                outbox.mark_retry(pending.command_id, str(exc), clock() + policy.delay(attempts, exc.retry_after))
                counts["retry"] += 1
            else:
                outbox.mark_failed(pending.command_id, str(exc))
                counts["failed"] += 1
            log.warning("tweet %s not posted (attempt %d): %s", pending.command_id, attempts, exc)
            continue
        outbox.mark_posted(pending.command_id, posted.tweet_id, clock())
        counts["posted"] += 1
        log.info("tweeted for %s: %s", pending.account, pending.text)
    return counts


class TweetPublisher:
    """Consumes ``tweet-commands`` into the outbox and delivers what is due."""

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
    ) -> None:
        self.bootstrap = bootstrap
        self.outbox = outbox
        self.sender = sender
        self.daily_limit = daily_limit
        self.tz = tz
        self.policy = policy or RetryPolicy()
        self.batch_size = batch_size
        self.codec = get_codec()
        self.stats = {"consumed": 0, "queued": 0, "duplicate": 0, "over_limit": 0, "dead_letters": 0}
        self.stats.update({"posted": 0, "retry": 0, "failed": 0})
        self._consumer = None
        self._dead_letters: EdgeProducer | None = None

    def _consumer_or_new(self):
        if self._consumer is None:
            stored = self.outbox.positions()
            self._consumer = assigned_consumer(self.bootstrap, [TOPIC], stored or OFFSET_BEGINNING, group_id=GROUP_ID)
        return self._consumer

    def poll_once(self, timeout: float = 0.2) -> int:
        """Store one batch of commands (and their positions) in the outbox; returns messages consumed."""
        consumer = self._consumer_or_new()
        messages = consumer.consume(self.batch_size, timeout)
        accepted: list[tuple[dict[str, Any], str]] = []
        positions: dict[tuple[str, int], int] = {}
        for msg in messages:
            if msg.error():
                log.debug("consumer error: %s", msg.error())
                continue
            positions[(msg.topic(), msg.partition())] = msg.offset() + 1
            try:
                _name, record = self.codec.decode(msg.value(), ("TweetCommand",))
            except SchemaError as exc:
                self._dead_letter(msg, str(exc))
                continue
            command = to_json("TweetCommand", record)
            accepted.append((command, local_day(record["occurred_at"], self.tz)))
        if positions:
            counts = self.outbox.accept(accepted, self.daily_limit, time.time(), positions)
            for key, n in counts.items():
                self.stats[key] += n
            self.stats["consumed"] += len(messages)
            try:
                consumer.commit(
                    offsets=[TopicPartition(t, p, o) for (t, p), o in positions.items()], asynchronous=False
                )
            except KafkaException as exc:  # the outbox holds the positions; the group commit is informative
                log.debug("group commit failed: %s", exc)
        return len(messages)

    def _dead_letter(self, msg, reason: str) -> None:
        if self._dead_letters is None:
            self._dead_letters = EdgeProducer(self.bootstrap)
        record = {
            "source_topic": msg.topic(),
            "partition": msg.partition(),
            "offset": msg.offset(),
            "key": msg.key(),
            "value": msg.value() or b"",
            "reason": reason,
            "agent": "tweet-publisher",
            "failed_at": datetime.now(UTC),
        }
        self._dead_letters.send("dead-letters", record)
        self._dead_letters.flush()
        self.stats["dead_letters"] += 1
        log.warning("dead letter %s[%d]@%d: %s", msg.topic(), msg.partition(), msg.offset(), reason)

    def deliver_once(self) -> dict[str, int]:
        counts = deliver_due(self.outbox, self.sender, self.policy)
        for key, n in counts.items():
            self.stats[key] += n
        return counts

    def run(self, stop: threading.Event, on_ready: Callable[[], None] | None = None) -> None:
        """Consume and deliver until ``stop`` is set."""
        self._consumer_or_new()
        if on_ready:
            on_ready()
        while not stop.is_set():
            self.poll_once()
            self.deliver_once()

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        if self._dead_letters is not None:
            self._dead_letters.flush()
        self.outbox.close()


def build_publisher(settings, bootstrap: str | None = None) -> TweetPublisher:
    """A publisher from the settings: X API when a bearer token is set, else the dry-run log."""
    data_dir = Path(settings.data_dir)
    outbox = Outbox(data_dir / "tweet-outbox.sqlite3")
    token = settings.x_bearer_token.get_secret_value() if settings.x_bearer_token else None
    sender: Sender
    if token:
        sender = XSender(XClient(token, settings.x_api_base_url, settings.x_api_timeout))
    else:
        sender = DryRunSender(data_dir / "tweets-dryrun.jsonl")
    policy = RetryPolicy(
        settings.publisher_retry_base_seconds, settings.publisher_retry_max_seconds, settings.publisher_max_attempts
    )
    return TweetPublisher(
        bootstrap or settings.bootstrap,
        outbox,
        sender,
        daily_limit=settings.tweets_per_day,
        tz=settings.tweet_timezone,
        policy=policy,
    )
