"""One consume loop for every effector: consume, decode, dead-letter, ``handle``, commit with the state.

An effector reads its topics with a confluent-kafka consumer assigned to every partition (no group join to
wait for), from the positions it stored itself with its own state (outbox, state file). Each round:

1. consume a batch; each message is decoded against its topic's schemas and checked (``invalid_reason``); a
   message that cannot be carried out goes to ``dead-letters`` with its topic, partition, offset, raw bytes and
   the reason, and the loop goes on;
2. ``handle(records)`` carries out the decoded records (the subclass's work). A :class:`TransientError` is
   retried with capped exponential backoff, from the first record not carried out, until it succeeds or the
   effector is stopped: a record is never skipped;
3. what the round produced (dead letters, outputs) is flushed, THEN ``commit(positions)`` stores the positions
   past the records carried out together with the effector's state (one transaction or one file write), and
   they are also committed to the consumer group (informative: lag monitoring);
4. ``tick(consumed)`` does the time-driven work (deliveries, reconciliation, retries of outputs).

A crash anywhere repeats at most the records after the last ``commit``; command ids make that harmless.

A broker that lost its data (the embedded broker keeps everything in memory: a restart empties every topic)
is noticed when the consumer opens and, while it runs, every ``CHECK_SECONDS`` (:meth:`Effector.check_broker`): a
position beyond the partition's end, or before its start, is not a place in the topic the effector read. The effector then says so once (a warning and a ``BrokerDataLost``
alert), reads those partitions from their new beginning and calls :meth:`Effector.on_positions_lost`; what it
already carried out is not done again because its state (the outbox, the state file) dedupes by command id.
``stop`` (set on SIGTERM/SIGINT by :func:`stop_on_signals`) ends the loop after the current round.

A process that serves metrics calls :meth:`Effector.observe`: each round then reports its records, batch time,
decision latency, dead letters and consumer lag, and the effector says it is ready once :meth:`on_start` is done
(see :mod:`connectors.observability.effector_metrics`); without it the loop pays one ``is None`` test a round.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from connectors.exceptions import BrokerUnavailable
from connectors.kafka.edge import EdgeProducer, assigned_consumer
from connectors.kafka.lost_data import CHECK_SECONDS, lost_positions
from connectors.kafka.lost_data import describe as describe_lost
from schemas.codec import get_codec
from schemas.exceptions import SchemaError
from streams.health.rules import fingerprint
from streams.topics import topic

log = logging.getLogger(__name__)

Positions = dict[tuple[str, int], int]
BROKER_LOST_ALERT = "BrokerDataLost"


class TransientError(Exception):
    """Raised by ``handle`` when carrying out a record failed for now (a service down, HTTP 503).

    ``done`` records of the list were carried out before the failure: the retry starts after them.
    """

    def __init__(self, reason: str, done: int = 0):
        super().__init__(reason)
        self.done = done


@dataclass(frozen=True)
class Record:
    """A decoded, valid record and where it was read (``message`` is kept for dead-lettering it later)."""

    topic: str
    partition: int
    offset: int
    schema: str
    value: dict[str, Any]
    message: Any

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


def where(msg: Any) -> str:
    return f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"


def retry_delay(attempt: int, initial: float, maximum: float) -> float:
    """Seconds to wait after the ``attempt``-th failure: ``initial``, doubled each time, capped at ``maximum``."""
    return min(maximum, initial * 2 ** min(attempt - 1, 30))


def stop_on_signals() -> threading.Event:
    """An event set on SIGTERM or SIGINT: a graceful stop (the current round finishes and commits)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


class Effector(ABC):
    """The base of the effectors (see the module docstring). Subclasses set ``name`` (the ``agent`` of their dead
    letters), ``topics`` and ``group_id`` and implement :meth:`start_positions`, :meth:`handle` and :meth:`commit`.
    """

    name = "effector"
    topics: tuple[str, ...] = ()
    group_id: str | None = None
    batch_size = 500
    poll_seconds = 0.2
    retry_initial_seconds = 1.0
    retry_max_seconds = 60.0
    observer = None  # an EffectorObserver when the process serves metrics (see :meth:`observe`)

    def __init__(self, bootstrap: str, producer: EdgeProducer | None = None):
        self.bootstrap = bootstrap
        self.codec = get_codec()
        self.stop = threading.Event()
        self.dead_letters = 0
        self.reached_end: Positions = {}  # partitions read to their end at least once: where the end was
        self._consumer = None
        self._producer = producer
        self.lost_positions: dict[tuple[str, int], tuple[int, int]] = {}  # (topic, partition) -> (stored, end)
        self._read_up_to: Positions = {}  # the furthest position committed per partition, since the last loss
        self._next_broker_check = time.monotonic() + CHECK_SECONDS

    # -- hooks ------------------------------------------------------------------------------------------
    @abstractmethod
    def start_positions(self) -> Positions:
        """The stored ``(topic, partition) -> next offset`` to resume from; other partitions start at the beginning."""
        raise NotImplementedError

    @abstractmethod
    def handle(self, records: list[Record]) -> None:
        """Carry out the records in order; raise :class:`TransientError` to have them retried."""
        raise NotImplementedError

    @abstractmethod
    def commit(self, positions: Positions) -> None:
        """Store ``positions`` (past every record handled or dead-lettered) together with the effector's state."""
        raise NotImplementedError

    def invalid_reason(self, schema: str, value: dict[str, Any]) -> str | None:
        """Why a decoded record cannot be carried out (it is dead-lettered), or None."""
        return None

    def on_start(self) -> bool:
        """Runs once the consumer is open, before the effector is ready (catch-up); False if stopped meanwhile."""
        return True

    def tick(self, consumed: int) -> None:  # noqa: B027 (optional hook: nothing to do by default)
        """Time-driven work after each round (``consumed`` messages in it)."""

    def on_dead_letter(self, place: str, reason: str) -> None:
        log.warning("dead-lettered %s: %s", place, reason)

    def on_positions_lost(self, lost: dict[tuple[str, int], tuple[int, int]]) -> None:  # noqa: B027
        """The broker no longer has the stored positions of ``lost`` (``(topic, partition) -> (stored, end)``):
        they are read again from their beginning. Subclasses re-send what the lost topics held of theirs."""

    def on_retry(self, record: Record, error: TransientError, attempt: int, delay: float) -> None:
        log.warning("%s failed (attempt %d, retry in %.3gs): %s", record.where, attempt, delay, error)

    def observe(self, metrics, readiness=None) -> None:
        """Report this effector's rounds into ``metrics`` (a ``ProcessMetrics``) and its readiness (ready once the
        consumer is assigned and :meth:`on_start` caught up); subclasses add their domain metrics here."""
        from connectors.observability.effector_metrics import EffectorObserver

        self.observer = EffectorObserver(metrics, readiness)

    # -- clients ----------------------------------------------------------------------------------------
    @property
    def producer(self) -> EdgeProducer:
        """Dead letters and outputs (created on first use)."""
        if self._producer is None:
            self._producer = EdgeProducer(self.bootstrap)
        return self._producer

    @property
    def consumer(self):
        """Every partition of ``topics`` assigned, from :meth:`start_positions` (opened on first use)."""
        if self._consumer is None:
            try:
                stored = self.start_positions()
                consumer = assigned_consumer(
                    self.bootstrap, list(self.topics), stored, group_id=self.group_id, **{"enable.partition.eof": True}
                )
                try:
                    self._restart_lost_positions(consumer, stored)
                except BaseException:
                    consumer.close()
                    raise
                self._consumer = consumer
            except KafkaException as exc:
                raise BrokerUnavailable(f"{self.name} cannot consume from {self.bootstrap}: {exc}") from None
        return self._consumer

    # -- the loop ---------------------------------------------------------------------------------------
    def run(self, stop: threading.Event, on_ready: Callable[[], None] | None = None) -> None:
        """Consume, handle and commit until ``stop`` is set; then :meth:`close`."""
        self.stop = stop
        try:
            self.consumer  # noqa: B018 (opened before anything else: an unreachable broker fails here)
            if not self.on_start():
                return
            if self.observer is not None:
                self.observer.ready()
            if on_ready:
                on_ready()
            while not stop.is_set():
                self.step()
        finally:
            if self.observer is not None:
                self.observer.stopping()
            self.close()

    def step(self, timeout: float | None = None) -> int:
        """One round of the loop (:meth:`poll_once`, then :meth:`tick`, then now and then :meth:`check_broker`);
        return how many messages it consumed."""
        consumed = self.poll_once(timeout)
        self.tick(consumed)
        self.check_broker()
        return consumed

    def poll_once(self, timeout: float | None = None) -> int:
        """One round: consume a batch, dead-letter what is bad, handle the rest, flush, commit; return how many
        messages were consumed (end-of-partition events and consume errors not counted)."""
        started = time.perf_counter()
        messages, ends = [], {}
        for msg in self.consumer.consume(self.batch_size, self.poll_seconds if timeout is None else timeout):
            error = msg.error()
            if error is None:
                messages.append(msg)
            elif error.code() == KafkaError._PARTITION_EOF:
                self.reached_end[(msg.topic(), msg.partition())] = ends[(msg.topic(), msg.partition())] = msg.offset()
            else:
                log.warning("%s: consume error: %s", self.name, error.str())
        if not messages:
            if self.observer is not None:
                self.observer.round(messages, ends, 0.0, self.consumer)
            return 0
        records: list[Record] = []
        index_of: dict[int, int] = {}  # record number -> its message's number
        for i, msg in enumerate(messages):
            record = self._decode(msg)
            if record is not None:
                index_of[len(records)] = i
                records.append(record)
        done = self.handle_retrying(records)
        carried = messages if done == len(records) else messages[: index_of[done]]
        self._settle(_positions(carried))
        if self.observer is not None:
            self.observer.round(messages, ends, time.perf_counter() - started, self.consumer)
        return len(messages)

    def handle_retrying(self, records: list[Record]) -> int:
        """:meth:`handle` until every record is carried out; return how many were (fewer only if stopped)."""
        done, attempt = 0, 0
        while done < len(records):
            try:
                self.handle(records[done:])
                return len(records)
            except TransientError as exc:
                attempt = 1 if exc.done else attempt + 1
                done += exc.done
                delay = retry_delay(attempt, self.retry_initial_seconds, self.retry_max_seconds)
                self.on_retry(records[done], exc, attempt, delay)
                if self.stop.wait(delay):
                    return done
        return done

    def read_to_end(self, partitions: Iterable[tuple[str, int]], timeout: float | None = None) -> bool:
        """Rounds without ticks until each of ``partitions`` was read to its end (or ``timeout`` seconds passed);
        False if stopped first."""
        waiting = set(partitions)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not waiting <= self.reached_end.keys():
            if self.stop.is_set():
                return False
            if deadline is not None and time.monotonic() >= deadline:
                log.warning("%s: %d partition(s) not read to their end in %.0fs", self.name, len(waiting), timeout)
                return True
            self.poll_once()
        return True

    def dead_letter(self, msg: Any, reason: str) -> None:
        """Send a consumed message to ``dead-letters`` (flushed before the positions past it are committed)."""
        msg = getattr(msg, "message", msg)
        self.producer.dead_letter(msg, reason, self.name)
        self.dead_letters += 1
        if self.observer is not None:
            self.observer.dead_letter(msg.topic(), reason)
        self.on_dead_letter(where(msg), reason)

    def close(self) -> None:
        """Close the consumer and deliver what is still queued (subclasses close their stores after this)."""
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        if self._producer is not None:
            try:
                self._producer.flush(10)
            except BrokerUnavailable as exc:  # their positions were not committed: produced again after a restart
                log.warning("%s: on close: %s", self.name, exc)

    # -- a broker that came back empty ------------------------------------------------------------------
    def find_lost_positions(self, consumer: Any, stored: Positions) -> dict[tuple[str, int], tuple[int, int]]:
        """The stored positions of this effector's topics the broker no longer has: ``(topic, partition) ->
        (stored, end)`` (see :func:`connectors.kafka.lost_data.lost_positions`)."""
        ours = {key: position for key, position in stored.items() if key[0] in self.topics}
        return lost_positions(consumer, self.bootstrap, ours, existing=_keys(consumer.assignment()))

    def check_broker(self) -> None:
        """While running, every ``CHECK_SECONDS``: the positions read so far against what the broker holds now
        (a broker restarted empty under a running effector is noticed like one found at the start)."""
        now = time.monotonic()
        if now < self._next_broker_check:
            return
        self._next_broker_check = now + CHECK_SECONDS
        consumer = self.consumer
        held = {(tp.topic, tp.partition): tp.offset for tp in consumer.position(consumer.assignment()) if tp.offset > 0}
        # the furthest each partition was read: a consumer the broker already reset to the new beginning still
        # held a position the broker lost
        held = {key: max(offset, self._read_up_to.get(key, 0)) for key, offset in held.items()}
        try:
            self._restart_lost_positions(consumer, held)
        except KafkaException as exc:  # the broker cannot tell now (down, topics not re-created): next time
            log.debug("%s: broker check: %s", self.name, exc)

    def _restart_lost_positions(self, consumer: Any, stored: Positions) -> None:
        """Read the partitions whose stored positions the broker lost from their new beginning, and say so."""
        lost = self.find_lost_positions(consumer, stored)
        if not lost:
            return
        self.lost_positions = lost
        for key in lost:
            self._read_up_to.pop(key, None)
        summary = describe_lost(lost)
        log.error(
            "%s: the broker lost data (restarted empty or topics re-created): stored position(s) %s are not in"
            " the topics; reading them again from the beginning, deduplicated by the %s's own state",
            self.name,
            summary,
            self.name,
        )
        again = [TopicPartition(t, p) for t, p in _keys(consumer.assignment()) if (t, p) in lost]
        if again:  # only these: the others go on from where they are
            consumer.incremental_unassign(again)
            consumer.incremental_assign([TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING) for tp in again])
        if self._producer is not None:  # the alert and what on_positions_lost sends again go through a new client
            self._producer.renew()
        self.on_positions_lost(lost)
        try:
            self.producer.send("alerts", broker_lost_alert(self.name, summary, time.time()))
            self.producer.flush(10)
        except BrokerUnavailable as exc:  # the log line said it already
            log.warning("%s: broker-loss alert not delivered: %s", self.name, exc)

    # -- internals --------------------------------------------------------------------------------------
    def _decode(self, msg: Any) -> Record | None:
        name = msg.topic()
        schemas = topic(name).value_schemas
        try:
            schema, value = self.codec.decode(msg.value(), schemas)
        except SchemaError as exc:
            self.dead_letter(msg, f"undecodable {'/'.join(schemas)}: {exc}")
            return None
        reason = self.invalid_reason(schema, value)
        if reason is not None:
            self.dead_letter(msg, reason)
            return None
        return Record(name, msg.partition(), msg.offset(), schema, value, msg)

    def _settle(self, positions: Positions) -> None:
        """Deliver the round's output, then store the positions with the state (a crash in between repeats it)."""
        if self._producer is not None:
            self._producer.flush()
        if not positions:
            return
        self.commit(positions)
        read_up_to = self._read_up_to
        for key, offset in positions.items():
            read_up_to[key] = max(offset, read_up_to.get(key, 0))
        try:
            self.consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in positions.items()], asynchronous=False
            )
        except KafkaException as exc:  # the positions that count are stored with the state
            log.debug("%s: group commit failed: %s", self.name, exc)


def _keys(partitions: Iterable[TopicPartition]) -> list[tuple[str, int]]:
    return [(tp.topic, tp.partition) for tp in partitions]


def _positions(messages: list[Any]) -> Positions:
    positions: Positions = {}
    for msg in messages:
        positions[(msg.topic(), msg.partition())] = msg.offset() + 1
    return positions


def broker_lost_alert(source: str, summary: str, now: float) -> dict[str, Any]:
    """The Alert a process sends once it noticed that the broker lost data it had read."""
    at = datetime.fromtimestamp(now, UTC)
    return {
        "fingerprint": fingerprint(BROKER_LOST_ALERT, None, "critical", source=source),
        "alertname": BROKER_LOST_ALERT,
        "server_id": None,
        "league": None,
        "severity": "critical",
        "status": "firing",
        "value": None,
        "threshold": None,
        "summary": f"{source}: the broker lost data it had read: {summary}"[:1000],
        "suggestion": (
            "The broker restarted empty or its topics were re-created: run `wirereport topics create` and restart"
            " the processes; they read the new topics from the beginning and skip what they already did."
        ),
        "at": at,
        "starts_at": at,
        "labels": {"source": source},
    }


def positions_to_keys(positions: Positions, single_topic: str | None = None) -> dict[str, int]:
    """Positions as JSON keys: ``"partition"`` for an effector of one topic, else ``"topic:partition"``."""
    return {str(p) if t == single_topic else f"{t}:{p}": o for (t, p), o in positions.items()}


def positions_from_keys(stored: dict[str, int], single_topic: str | None = None) -> Positions:
    """The inverse of :func:`positions_to_keys`."""
    out: Positions = {}
    for key, offset in stored.items():
        name, _, partition = key.rpartition(":")
        out[(name or single_topic, int(partition))] = offset
    return out
