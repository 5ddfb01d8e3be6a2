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

from connectors.effectors.base import Effector, Positions, Record, TransientError
from connectors.effectors.scaling.executors import Executor, PermanentScaleError, ScaleError
from streams.runtime.alerts import event_alert

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
    """Applies scaling commands once each (forecast-only ones are only reported) and reconciles the executor with
    the last desired count of each league; a failing command is retried by :class:`ScalingCommands` with capped
    exponential backoff (``retry_initial_seconds`` doubling up to ``retry_max_seconds``)."""

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

        Raises ``ScaleError`` (nothing recorded) if the executor fails: the caller retries the same command
        (``PermanentScaleError``: it dead-letters it).
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


class ScalingCommands(Effector):
    """The scaler's consume loop: ``scaling-commands`` carried out by a :class:`Scaler`, positions kept with the
    applied ids. A transiently failing command blocks its partition (retried by the base, reconciling the other
    leagues meanwhile); a permanently failing one is dead-lettered."""

    name = "scaler"
    topics = (TOPIC,)
    group_id = "wirereport-scaler"
    poll_seconds = 0.5

    def __init__(self, scaler: Scaler, bootstrap: str):
        super().__init__(bootstrap)
        self.scaler = scaler
        self.retry_initial_seconds = scaler.retry_initial_seconds
        self.retry_max_seconds = scaler.retry_max_seconds
        self._fresh: set[tuple[str, int]] = set()  # partitions without a saved position, caught up at start
        self._history: dict[str, Record] | None = None  # while catching up: the newest command of each league
        self._history_ids: set[str] = set()
        self._history_seen = 0
        self._held: Positions = {}  # positions of fresh partitions, saved once their newest commands are applied

    def start_positions(self) -> Positions:
        return self.scaler.applied.positions()

    def invalid_reason(self, schema: str, value: dict) -> str | None:
        return invalid_reason(value)

    def on_start(self) -> bool:
        saved = self.scaler.applied.positions()
        self._fresh = {(tp.topic, tp.partition) for tp in self.consumer.assignment()} - saved.keys()
        if self._fresh and not self.catch_up():
            return False
        self.scaler.reconcile()
        self.scaler.on_event("scaler ready")
        return True

    def catch_up(self) -> bool:
        """Fresh partitions (a fresh data dir) are read to their end first and only the newest command of each
        league found there is carried out; the scaler then follows from the end. False if stopped.

        The end is the fetch's end-of-partition event, not ListOffsets (the embedded broker can report a batch's
        base offset + 1 there). Bad messages on the way are dead-lettered; superseded commands are only counted."""
        self._history = {}
        if not self.read_to_end(self._fresh):
            return False
        newest = sorted(self._history.values(), key=lambda r: (r.partition, r.offset))
        self._history = None
        if self.handle_retrying(newest) < len(newest):
            return False  # no position saved: the next start catches up again (applied ids are not repeated)
        self.scaler.applied.save_positions({tp: max(self._held.get(tp, 0), self.reached_end[tp]) for tp in self._fresh})
        self.scaler.on_event(
            f"caught up: {self._history_seen} command(s) in the history of {TOPIC}, "
            f"the newest of {len(newest)} league(s) applied"
        )
        return True

    def handle(self, records: list[Record]) -> None:
        for i, record in enumerate(records):
            if self._history is not None and (record.topic, record.partition) in self._fresh:
                self._remember(record)
                continue
            command = record.value
            try:
                applied = self.scaler.handle(command)
            except PermanentScaleError as exc:
                if self.observer is not None:
                    self.observer.metrics.scaling_failure(command["league"], exc)
                self.dead_letter(record, f"permanent scaling failure of {command['command_id']}: {exc}")
                # flushed with the dead letter, before the positions past the command are stored
                self.producer.send("alerts", failure_alert(command, str(exc)))
            except ScaleError as exc:
                raise TransientError(str(exc), done=i) from exc
            else:
                if applied and self.observer is not None:
                    self.observer.metrics.scaling_decision(command["league"], command["action"])

    def _remember(self, record: Record) -> None:
        command = record.value
        self._history_seen += 1
        if command["command_id"] in self._history_ids:
            return  # a redelivery: the first occurrence counts, as when following
        self._history_ids.add(command["command_id"])
        leagues = self.scaler.leagues
        if not command.get("forecast_only") and (leagues is None or command["league"] in leagues):
            self._history[command["league"]] = record

    def commit(self, positions: Positions) -> None:
        if self._history is not None:
            self._held.update({tp: o for tp, o in positions.items() if tp in self._fresh})
            positions = {tp: o for tp, o in positions.items() if tp not in self._fresh}
        if positions:
            self.scaler.applied.save_positions(positions)

    def tick(self, consumed: int) -> None:
        self.scaler.reconcile_if_due()

    def on_retry(self, record: Record, error: TransientError, attempt: int, delay: float) -> None:
        self.scaler.failures += 1
        if self.observer is not None:
            self.observer.metrics.scaling_failure(record.value["league"], error.__cause__ or error)
        self.scaler.on_event(
            f"scaling failed (attempt {attempt}, retry in {delay:.3g}s): {error} [{record.value['command_id']}]"
        )
        self.scaler.reconcile_if_due(exclude=record.value["league"])

    def on_dead_letter(self, place: str, reason: str) -> None:
        self.scaler.dead_letters += 1
        self.scaler.on_event(f"dead-lettered {place}: {reason}")


def failure_alert(command: dict, error: str) -> dict:
    """The Alert of a scaling command that failed for good (one per command: a redelivery is the same alert)."""
    return event_alert(
        "ScalingCommandFailed",
        "critical",
        f"{command['league']}: scaling to {command['agents_after']} agents failed for good: {error}"[:500],
        command["decided_at"],
        command["command_id"],
        league=command["league"],
        value=float(command["agents_after"]),
        suggestion="Check the executor (permissions, quotas); the pool keeps its size until the next decision.",
    )


def run_scaler(scaler: Scaler, bootstrap: str, stop: threading.Event, metrics=None, readiness=None) -> None:
    """Consume ``scaling-commands`` until ``stop``, resuming where the scaler left off.

    Positions are kept with the applied ids and never pass a command that was not carried out: a command that
    fails transiently blocks its partition (retried with backoff) and, if the scaler stops meanwhile, is
    redelivered on the next start; ids make redeliveries harmless. Undecodable or invalid commands, and commands
    that fail permanently (``PermanentScaleError``), go to ``dead-letters``. Partitions without a saved position
    are caught up first (:meth:`ScalingCommands.catch_up`). The executor is reconciled at start and every
    ``scaler.reconcile_seconds``. ``metrics``/``readiness``: report into a process's metrics (when served).
    """
    commands = ScalingCommands(scaler, bootstrap)
    if metrics is not None:
        commands.observe(metrics, readiness)
    commands.run(stop)
