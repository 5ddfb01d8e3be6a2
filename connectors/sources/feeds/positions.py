"""The feed poller's durable position per game (SQLite): what was sent, so a restart neither re-sends nor skips.

Per game: a content hash of every Play record sent (a play whose record comes back different is a correction,
sent again), the last play sent, the hash of the ScheduledGame sent, and whether the game ended. It is written
only after the producer confirmed delivery, in one transaction per delivered batch.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS games (
    league TEXT NOT NULL,
    game_id TEXT NOT NULL,
    schedule_hash TEXT,
    last_play_id TEXT,
    last_sequence INTEGER,
    final INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    PRIMARY KEY (league, game_id)
);
CREATE TABLE IF NOT EXISTS sent_plays (
    league TEXT NOT NULL,
    game_id TEXT NOT NULL,
    play_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    PRIMARY KEY (league, game_id, play_id)
);
"""


def content_hash(record: dict[str, Any]) -> str:
    """A stable hash of a JSON record's content."""
    return hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class GamePosition:
    """What was sent of one game."""

    sent: dict[str, str]  # play_id -> content hash
    schedule_hash: str | None
    last_play_id: str | None
    last_sequence: int | None
    final: bool


class FeedPositions:
    """A SQLite position store at ``path`` (created if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def position(self, league: str, game_id: str) -> GamePosition:
        sent = dict(
            self._db.execute(
                "SELECT play_id, content_hash FROM sent_plays WHERE league = ? AND game_id = ?", (league, game_id)
            ).fetchall()
        )
        row = self._db.execute(
            "SELECT schedule_hash, last_play_id, last_sequence, final FROM games WHERE league = ? AND game_id = ?",
            (league, game_id),
        ).fetchone()
        if row is None:
            return GamePosition(sent, None, None, None, False)
        return GamePosition(sent, row[0], row[1], row[2], bool(row[3]))

    def record_delivered(
        self,
        league: str,
        game_id: str,
        plays: list[dict[str, Any]],
        schedule_hash: str | None = None,
        final: bool = False,
    ) -> None:
        """Store the plays (JSON records) just delivered, the ScheduledGame's hash if it was sent, and ``final``."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO games (league, game_id, updated_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (league, game_id, time.time()),
            )
            for play in plays:
                db.execute(
                    "INSERT INTO sent_plays (league, game_id, play_id, sequence, content_hash) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (league, game_id, play_id) DO UPDATE SET"
                    " sequence = excluded.sequence, content_hash = excluded.content_hash",
                    (league, game_id, play["play_id"], play["sequence"], content_hash(play)),
                )
            last = max(plays, key=lambda p: p["sequence"], default=None)
            if last is not None:
                db.execute(
                    "UPDATE games SET last_play_id = ?, last_sequence = ? WHERE league = ? AND game_id = ?"
                    " AND (last_sequence IS NULL OR last_sequence <= ?)",
                    (last["play_id"], last["sequence"], league, game_id, last["sequence"]),
                )
            if schedule_hash is not None:
                db.execute(
                    "UPDATE games SET schedule_hash = ? WHERE league = ? AND game_id = ?",
                    (schedule_hash, league, game_id),
                )
            db.execute(
                "UPDATE games SET final = MAX(final, ?), updated_at = ? WHERE league = ? AND game_id = ?",
                (int(final), time.time(), league, game_id),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
