"""The scaler: consumes ``scaling-commands``, deduplicates them by id (persisted), applies them via an executor,
retries failing ones without ever skipping them, reconciles the executor, dead-letters bad input."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException

from connectors.edge import EdgeProducer, assigned_consumer
from connectors.exceptions import BrokerUnavailable
from connectors.scaling.executors import Executor, ScaleError
from schemas.codec import get_codec
from schemas.exceptions import SchemaError

log = logging.getLogger(__name__)


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
        came first, so the command was not carried out and must not be marked consumed."""
        attempt = 0
        while True:
            try:
                self.handle(command)
                return True
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


def run_scaler(scaler: Scaler, bootstrap: str, stop: threading.Event) -> None:
    """Consume ``scaling-commands`` until ``stop``, resuming where the scaler left off.

    Positions are kept with the applied ids and never pass a command that was not carried out: a failing
    command blocks its partition (retried with backoff) and, if the scaler stops meanwhile, is redelivered on
    the next start; ids make redeliveries harmless. Undecodable or invalid commands go to ``dead-letters``.
    The executor is reconciled at start and every ``scaler.reconcile_seconds``.
    """
    codec = get_codec()
    try:
        consumer = assigned_consumer(bootstrap, ["scaling-commands"], start=scaler.applied.positions())
    except KafkaException as exc:
        raise BrokerUnavailable(f"scaler cannot consume from {bootstrap}: {exc}") from None
    producer = EdgeProducer(bootstrap)
    scaler.reconcile()
    scaler.on_event("scaler ready")
    try:
        while not stop.is_set():
            messages = consumer.consume(500, 0.5)
            positions: dict[tuple[str, int], int] = {}
            letters = 0
            for msg in messages:
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        log.warning("consume error: %s", msg.error().str())
                    continue
                try:
                    _, command = codec.decode(msg.value(), ("ScalingCommand",))
                    reason = invalid_reason(command)
                except SchemaError as exc:
                    reason = f"undecodable ScalingCommand: {exc}"
                if reason is not None:
                    producer.dead_letter(msg, reason, "scaler")
                    letters += 1
                    scaler.on_event(f"dead-lettered scaling-commands[{msg.partition()}]@{msg.offset()}: {reason}")
                elif not scaler.apply(command, stop):
                    break  # stopped while the command kept failing: it stays unconsumed
                positions[(msg.topic(), msg.partition())] = msg.offset() + 1
            if letters:
                producer.flush()  # the dead letters are stored before their positions are
                scaler.dead_letters += letters
            if positions:
                scaler.applied.save_positions(positions)
            scaler.reconcile_if_due()
    finally:
        consumer.close()
        try:
            producer.flush(10)
        except BrokerUnavailable as exc:  # their positions were not saved: they are dead-lettered again
            log.warning("dead letters not delivered: %s", exc)
