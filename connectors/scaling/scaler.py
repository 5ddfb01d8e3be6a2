"""The scaler: consumes ``scaling-commands``, deduplicates them by id (persisted), applies them via an executor."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException

from connectors.edge import assigned_consumer
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
    """Applies scaling commands once each; forecast-only commands are only reported."""

    def __init__(
        self,
        executor: Executor,
        applied: AppliedCommands,
        leagues: set[str] | None = None,
        on_event: Callable[[str], None] = lambda line: None,
    ):
        self.executor = executor
        self.applied = applied
        self.leagues = leagues
        self.on_event = on_event
        self.duplicates = 0

    def restore(self) -> None:
        """Bring the executor back to the last applied counts (after a scaler restart)."""
        for league, agents in self.applied.last_agents().items():
            if self.leagues is None or league in self.leagues:
                self.executor.scale(league, agents)
                self.on_event(f"restored {league} to {agents} agent(s)")

    def handle(self, command: dict) -> bool:
        """Apply one ScalingCommand; False if it was skipped (duplicate, forecast-only, other league)."""
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
        self.on_event(
            f"scaled {league} {command['agents_before']} -> {command['agents_after']} ({command['action']}: "
            f"{command['reason']}) [{cid}]"
        )
        return True


def run_scaler(
    scaler: Scaler,
    bootstrap: str,
    stop: threading.Event,
    converge: Callable[[], None] | None = None,
) -> None:
    """Consume ``scaling-commands`` until ``stop``, resuming where the scaler left off (positions kept with
    the applied ids, so a restart neither skips nor - thanks to the ids - repeats a command)."""
    codec = get_codec()
    try:
        consumer = assigned_consumer(bootstrap, ["scaling-commands"], start=scaler.applied.positions())
    except KafkaException as exc:
        raise BrokerUnavailable(f"scaler cannot consume from {bootstrap}: {exc}") from None
    scaler.on_event("scaler ready")
    try:
        last_converge = time.monotonic()
        while not stop.is_set():
            messages = consumer.consume(500, 0.5)
            positions = {}
            for msg in messages:
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        log.warning("consume error: %s", msg.error().str())
                    continue
                positions[(msg.topic(), msg.partition())] = msg.offset() + 1
                try:
                    _, command = codec.decode(msg.value(), ("ScalingCommand",))
                except SchemaError as exc:
                    log.warning("undecodable scaling command at offset %d: %s", msg.offset(), exc)
                    continue
                try:
                    scaler.handle(command)
                except ScaleError as exc:
                    scaler.on_event(f"scaling failed: {exc}")
            if positions:
                scaler.applied.save_positions(positions)
            if converge is not None and time.monotonic() - last_converge > 2.0:
                converge()
                last_converge = time.monotonic()
    finally:
        consumer.close()
