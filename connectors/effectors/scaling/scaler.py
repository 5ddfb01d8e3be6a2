"""The scaler: consumes ``scaling-commands``, deduplicates them by id (persisted), applies them via an executor,
retries transiently failing ones without skipping them, dead-letters bad input and permanently failing commands,
reconciles the executor; a fresh scaler applies only the newest command of each league in the retained history."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from connectors.effectors.scaling.executors import Executor, PermanentScaleError, ScaleError
from connectors.exceptions import BrokerUnavailable
from connectors.kafka.edge import EdgeProducer, assigned_consumer, new_consumer, partitions_of
from schemas.codec import get_codec
from schemas.exceptions import SchemaError

log = logging.getLogger(__name__)

TOPIC = "scaling-commands"


class AppliedCommands:
    """Ids of commands already carried out (SQLite; the newest ``keep`` are kept)."""

    def __init__(self, path: Path, keep: int = 100_000):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS applied (seq INTEGER PRIMARY KEY AUTOINCREMENT, command_id TEXT UNIQUE,"
            " league TEXT, agents INTEGER)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS positions (topic TEXT, partition INTEGER, next_offset INTEGER,"
            " PRIMARY KEY (topic, partition))"
        )

    def positions(self) -> dict[tuple[str, int], int]:
        """Where to resume each partition (the offset after the last message handled)."""
        rows = self._db.execute("SELECT topic, partition, next_offset FROM positions").fetchall()
        return {(t, p): o for t, p, o in rows}

    def save_positions(self, positions: dict[tuple[str, int], int]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO positions (topic, partition, next_offset) VALUES (?, ?, ?)",
            [(t, p, o) for (t, p), o in positions.items()],
        )

    def __contains__(self, command_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM applied WHERE command_id = ?", (command_id,)).fetchone() is not None

    def add(self, command_id: str, league: str, agents: int) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO applied (command_id, league, agents) VALUES (?, ?, ?)", (command_id, league, agents)
        )
        self._db.execute("DELETE FROM applied WHERE seq <= (SELECT MAX(seq) FROM applied) - ?", (self.keep,))

    def last_agents(self) -> dict[str, int]:
        """The agent count of each league's newest applied command (restored at start)."""
        rows = self._db.execute(
            "SELECT league, agents FROM applied WHERE seq IN"
            " (SELECT MAX(seq) FROM applied WHERE agents >= 0 GROUP BY league)"
        )
        return dict(rows.fetchall())

    def close(self) -> None:
        self._db.close()


class Scaler:
    """Applies scaling commands once each (forecast-only ones are only reported), retrying a failing one with
    capped exponential backoff, and reconciles the executor with the last desired count of each league."""

    def __init__(
        self,
        executor: Executor,
        applied: AppliedCommands,
        leagues: set[str] | None = None,
        on_event: Callable[[str], None] = lambda line: None,
        retry_initial_seconds: float = 1.0,
        retry_max_seconds: float = 60.0,
        reconcile_seconds: float = 60.0,
    ):
        self.executor = executor
        self.applied = applied
        self.leagues = leagues
        self.on_event = on_event
        self.retry_initial_seconds = retry_initial_seconds
        self.retry_max_seconds = retry_max_seconds
        self.reconcile_seconds = reconcile_seconds
        self.desired = {
            league: agents for league, agents in applied.last_agents().items() if leagues is None or league in leagues
        }
        self.duplicates = 0
        self.failures = 0
        self.dead_letters = 0
        self._next_reconcile = 0.0

    def handle(self, command: dict) -> bool:
        """Apply one ScalingCommand; False if it was skipped (duplicate, forecast-only, other league).

        Raises ``ScaleError`` (nothing recorded) if the executor fails: the caller retries the same command.
        """
        league = command["league"]
        if self.leagues is not None and league not in self.leagues:
            return False
        cid = command["command_id"]
        if cid in self.applied:
            self.duplicates += 1
            self.on_event(f"duplicate command {cid} ignored")
            return False
        if command.get("forecast_only"):
            self.on_event(f"forecast-only {league} {command['agents_before']} -> {command['agents_after']} ({cid})")
            self.applied.add(cid, league, -1)  # seen, but nothing to restore
            return False
        self.executor.scale(league, command["agents_after"])
        self.applied.add(cid, league, command["agents_after"])
        self.desired[league] = command["agents_after"]
        self.on_event(
            f"scaled {league} {command['agents_before']} -> {command['agents_after']} ({command['action']}: "
            f"{command['reason']}) [{cid}]"
        )
        return True

    def apply(self, command: dict, stop: threading.Event) -> bool:
        """:meth:`handle` until it succeeds (one line per failure, with the attempt number); False if ``stop``
        came first, so the command was not carried out and must not be marked consumed.

        A ``PermanentScaleError`` is not retried: it is raised for the caller to dead-letter the command."""
        attempt = 0
        while True:
            try:
                self.handle(command)
                return True
            except PermanentScaleError:
                raise
            except ScaleError as exc:
                attempt += 1
                self.failures += 1
                delay = min(self.retry_max_seconds, self.retry_initial_seconds * 2 ** min(attempt - 1, 30))
                self.on_event(
                    f"scaling failed (attempt {attempt}, retry in {delay:.3g}s): {exc} [{command['command_id']}]"
                )
            self.reconcile_if_due(exclude=command["league"])
            if stop.wait(delay):
                return False

    def reconcile(self, exclude: str | None = None) -> None:
        """Re-apply each league's last desired count where the executor's actual count differs (workers that
        died, replicas changed by someone else). A league whose actual count is unknown is left alone."""
        self._next_reconcile = time.monotonic() + self.reconcile_seconds
        for league, want in sorted(self.desired.items()):
            if league == exclude:
                continue
            try:
                actual = self.executor.current(league)
                if actual is None or actual == want:
                    continue
                self.executor.scale(league, want)
            except ScaleError as exc:
                self.on_event(f"reconcile {league} failed: {exc}")
                continue
            self.on_event(f"reconciled {league}: {actual} -> {want} agent(s)")

    def reconcile_if_due(self, exclude: str | None = None) -> None:
        if time.monotonic() >= self._next_reconcile:
            self.reconcile(exclude)


def invalid_reason(command: dict) -> str | None:
    """Why a decoded ScalingCommand cannot be carried out, or None if it can."""
    if not command.get("command_id"):
        return "ScalingCommand has an empty command_id"
    if command["agents_after"] < 0:
        return f"ScalingCommand {command['command_id']} has agents_after={command['agents_after']} < 0"
    return None


def _decode(codec, msg) -> tuple[dict | None, str | None]:
    """The message's ScalingCommand and why it cannot be carried out (None if it can)."""
    try:
        _, command = codec.decode(msg.value(), ("ScalingCommand",))
    except SchemaError as exc:
        return None, f"undecodable ScalingCommand: {exc}"
    return command, invalid_reason(command)


class _Run:
    """One run of the scaler: its producer (dead letters) and the handling of one consumed message."""

    def __init__(self, scaler: Scaler, producer: EdgeProducer, stop: threading.Event):
        self.scaler = scaler
        self.producer = producer
        self.stop = stop
        self.codec = get_codec()
        self.letters = 0

    def dead_letter(self, msg, reason: str) -> None:
        self.producer.dead_letter(msg, reason, "scaler")
        self.letters += 1
        self.scaler.on_event(f"dead-lettered {TOPIC}[{msg.partition()}]@{msg.offset()}: {reason}")

    def carry_out(self, msg, command: dict) -> bool:
        """Apply (retrying) or dead-letter a valid command; False if stopped before it was carried out."""
        try:
            return self.scaler.apply(command, self.stop)
        except PermanentScaleError as exc:
            self.dead_letter(msg, f"permanent scaling failure of {command['command_id']}: {exc}")
            return True

    def settle(self, positions: dict[tuple[str, int], int]) -> None:
        """Store the dead letters, then the positions past them (a crash in between only repeats them)."""
        if self.letters:
            self.producer.flush()
            self.scaler.dead_letters += self.letters
            self.letters = 0
        if positions:
            self.scaler.applied.save_positions(positions)


def catch_up(run: _Run, bootstrap: str) -> bool:
    """Partitions with no saved position (a fresh data dir) are read to their end first and only the newest
    command of each league found there is carried out; the scaler then follows from the end. False if stopped.

    The end is the fetch's end-of-partition event, not ListOffsets (the embedded broker can report a batch's
    base offset + 1 there). Bad messages on the way are dead-lettered; superseded commands are only counted."""
    scaler = run.scaler
    saved = scaler.applied.positions()
    try:
        consumer = new_consumer(bootstrap, **{"enable.partition.eof": True})
    except KafkaException as exc:
        raise BrokerUnavailable(f"scaler cannot consume from {bootstrap}: {exc}") from None
    try:
        fresh = [p for p in partitions_of(consumer, bootstrap, TOPIC) if (TOPIC, p) not in saved]
        if not fresh:
            return True
        consumer.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in fresh])
        ends: dict[int, int] = {}
        newest: dict[str, tuple[object, dict]] = {}
        ids: set[str] = set()
        seen = 0
        while len(ends) < len(fresh):
            if run.stop.is_set():
                return False
            for msg in consumer.consume(500, 0.5):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        ends.setdefault(msg.partition(), msg.offset())
                    else:
                        log.warning("consume error: %s", msg.error().str())
                    continue
                if msg.partition() in ends:
                    continue  # produced after the end was reached: followed as a new command
                seen += 1
                command, reason = _decode(run.codec, msg)
                if reason is not None:
                    run.dead_letter(msg, reason)
                    continue
                if command["command_id"] in ids:
                    continue  # a redelivery: the first occurrence counts, as when following
                ids.add(command["command_id"])
                if not command.get("forecast_only") and (scaler.leagues is None or command["league"] in scaler.leagues):
                    newest[command["league"]] = (msg, command)
    finally:
        consumer.close()
    for msg, command in sorted(newest.values(), key=lambda mc: (mc[0].partition(), mc[0].offset())):
        if not run.carry_out(msg, command):
            return False  # no position saved: the next start catches up again (applied ids are not repeated)
    run.settle({(TOPIC, p): offset for p, offset in ends.items()})
    scaler.on_event(
        f"caught up: {seen} command(s) in the history of {TOPIC}, the newest of {len(newest)} league(s) applied"
    )
    return True


def run_scaler(scaler: Scaler, bootstrap: str, stop: threading.Event) -> None:
    """Consume ``scaling-commands`` until ``stop``, resuming where the scaler left off.

    Positions are kept with the applied ids and never pass a command that was not carried out: a command that
    fails transiently blocks its partition (retried with backoff) and, if the scaler stops meanwhile, is
    redelivered on the next start; ids make redeliveries harmless. Undecodable or invalid commands, and commands
    that fail permanently (``PermanentScaleError``), go to ``dead-letters``. Partitions without a saved position
    are caught up first (:func:`catch_up`). The executor is reconciled at start and every
    ``scaler.reconcile_seconds``.
    """
    producer = EdgeProducer(bootstrap)
    run = _Run(scaler, producer, stop)
    consumer = None
    try:
        if not catch_up(run, bootstrap):
            return
        try:
            consumer = assigned_consumer(bootstrap, [TOPIC], start=scaler.applied.positions())
        except KafkaException as exc:
            raise BrokerUnavailable(f"scaler cannot consume from {bootstrap}: {exc}") from None
        scaler.reconcile()
        scaler.on_event("scaler ready")
        while not stop.is_set():
            positions: dict[tuple[str, int], int] = {}
            for msg in consumer.consume(500, 0.5):
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        log.warning("consume error: %s", msg.error().str())
                    continue
                command, reason = _decode(run.codec, msg)
                if reason is not None:
                    run.dead_letter(msg, reason)
                elif not run.carry_out(msg, command):
                    break  # stopped while the command kept failing: it stays unconsumed
                positions[(msg.topic(), msg.partition())] = msg.offset() + 1
            run.settle(positions)
            scaler.reconcile_if_due()
    finally:
        if consumer is not None:
            consumer.close()
        try:
            producer.flush(10)
        except BrokerUnavailable as exc:  # their positions were not saved: they are dead-lettered again
            log.warning("dead letters not delivered: %s", exc)
