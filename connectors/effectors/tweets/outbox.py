"""The tweet publisher's outbox: SQLite, durable across restarts, deduplicated on command id, capped per day.

A command is accepted once (its id is the primary key). The daily cap is enforced when a command is accepted:
an account never has more than ``limit`` commands queued or posted for one day (the America/New_York day of
the play), whatever arrives twice or late. Consumed topic offsets are stored in the same transaction as the
commands they carried, so after a crash the publisher resumes exactly after what it has stored.
Every final outcome (posted, dry_run, failed, duplicate, skipped_limit) writes a receipt in the same transaction;
receipts stay unsent until the publisher has produced them to ``tweet-receipts`` (at-least-once, keyed by id).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    command_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    day TEXT NOT NULL,
    text TEXT NOT NULL,
    record TEXT NOT NULL,
    status TEXT NOT NULL,            -- queued | posted | failed | over_limit
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    accepted_at REAL NOT NULL,
    posted_at REAL,
    tweet_id TEXT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS commands_due ON commands (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS commands_day ON commands (account, day, status);
CREATE TABLE IF NOT EXISTS receipts (
    command_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    status TEXT NOT NULL,            -- posted | dry_run | failed | duplicate | skipped_limit
    tweet_id TEXT,
    attempts INTEGER NOT NULL,
    detail TEXT NOT NULL,
    at REAL NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS receipts_unsent ON receipts (sent);
CREATE TABLE IF NOT EXISTS positions (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""
COUNTED = ("queued", "posted")
RECEIPT_FROM_COMMAND = (
    "INSERT INTO receipts (command_id, account, status, tweet_id, attempts, detail, at, sent)"
    " SELECT command_id, account, ?, tweet_id, attempts, ?, ?, 0 FROM commands WHERE command_id = ?"
    " ON CONFLICT (command_id) DO UPDATE SET status = excluded.status, tweet_id = excluded.tweet_id,"
    " attempts = excluded.attempts, detail = excluded.detail, at = excluded.at, sent = 0"
)


@dataclass(frozen=True)
class Pending:
    command_id: str
    account: str
    text: str
    attempts: int
    record: dict[str, Any]


class Outbox:
    """A SQLite outbox at ``path`` (created if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def accept(
        self,
        commands: Iterable[tuple[dict[str, Any], str]],
        limit: int,
        now: float,
        positions: dict[tuple[str, int], int] | None = None,
    ) -> dict[str, int]:
        """Store ``(command JSON, day)`` pairs and the consumed positions in one transaction.

        Returns counts of queued, duplicate and over_limit commands.
        """
        counts = {"queued": 0, "duplicate": 0, "over_limit": 0}
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for command, day in commands:
                cid = command["command_id"]
                if db.execute("SELECT 1 FROM commands WHERE command_id = ?", (cid,)).fetchone():
                    counts["duplicate"] += 1
                    continue
                used = db.execute(
                    "SELECT COUNT(*) FROM commands WHERE account = ? AND day = ? AND status IN (?, ?)",
                    (command["account"], day, *COUNTED),
                ).fetchone()[0]
                status = "queued" if used < limit else "over_limit"
                db.execute(
                    "INSERT INTO commands (command_id, account, day, text, record, status, accepted_at, next_attempt_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (cid, command["account"], day, command["text"], json.dumps(command), status, now, now),
                )
                counts[status] += 1
                if status == "over_limit":
                    detail = f"over the daily limit of {limit} tweets for {command['account']} on {day}"
                    db.execute(RECEIPT_FROM_COMMAND, ("skipped_limit", detail, now, cid))
            for (topic, partition), offset in (positions or {}).items():
                db.execute(
                    "INSERT INTO positions (topic, partition, next_offset) VALUES (?, ?, ?)"
                    " ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
                    (topic, partition, offset),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return counts

    def positions(self) -> dict[tuple[str, int], int]:
        rows = self._db.execute("SELECT topic, partition, next_offset FROM positions").fetchall()
        return {(t, p): o for t, p, o in rows}

    def due(self, now: float, limit: int = 100) -> list[Pending]:
        """Queued commands whose next attempt is due, oldest first."""
        rows = self._db.execute(
            "SELECT command_id, account, text, attempts, record FROM commands"
            " WHERE status = 'queued' AND next_attempt_at <= ? ORDER BY accepted_at, command_id LIMIT ?",
            (now, limit),
        ).fetchall()
        return [Pending(cid, acc, text, att, json.loads(rec)) for cid, acc, text, att, rec in rows]

    def next_due_at(self) -> float | None:
        row = self._db.execute("SELECT MIN(next_attempt_at) FROM commands WHERE status = 'queued'").fetchone()
        return row[0]

    def _atomic(self, *statements: tuple[str, tuple]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                db.execute(sql, params)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def mark_posted(self, command_id: str, tweet_id: str, now: float, receipt_status: str = "posted") -> None:
        """Posted (``receipt_status`` dry_run for the dry-run log); writes its receipt in the same transaction."""
        self._atomic(
            (
                "UPDATE commands SET status = 'posted', posted_at = ?, tweet_id = ?, attempts = attempts + 1"
                " WHERE command_id = ?",
                (now, tweet_id, command_id),
            ),
            (RECEIPT_FROM_COMMAND, (receipt_status, f"tweet {tweet_id}", now, command_id)),
        )

    def mark_retry(self, command_id: str, error: str, next_attempt_at: float) -> None:
        self._db.execute(
            "UPDATE commands SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE command_id = ?",
            (error, next_attempt_at, command_id),
        )

    def mark_failed(
        self, command_id: str, error: str, now: float | None = None, receipt_status: str = "failed"
    ) -> None:
        """Given up (``receipt_status`` duplicate when X refused duplicate content); writes its receipt too."""
        at = time.time() if now is None else now
        self._atomic(
            (
                "UPDATE commands SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE command_id = ?",
                (error, command_id),
            ),
            (RECEIPT_FROM_COMMAND, (receipt_status, error, at, command_id)),
        )

    def unsent_receipts(self, limit: int = 500) -> list[dict[str, Any]]:
        """Receipts not yet produced (``at`` in epoch seconds), oldest first."""
        cur = self._db.execute(
            "SELECT command_id, account, status, tweet_id, attempts, detail, at FROM receipts"
            " WHERE sent = 0 ORDER BY at, command_id LIMIT ?",
            (limit,),
        )
        return [dict(zip([c[0] for c in cur.description], row, strict=True)) for row in cur.fetchall()]

    def mark_receipts_sent(self, receipts: Iterable[dict[str, Any]]) -> None:
        """Mark receipts produced, unless a newer outcome replaced one meanwhile (its ``at`` changed)."""
        self._db.executemany(
            "UPDATE receipts SET sent = 1 WHERE command_id = ? AND at = ?",
            [(r["command_id"], r["at"]) for r in receipts],
        )

    def receipt(self, command_id: str) -> dict[str, Any] | None:
        cur = self._db.execute("SELECT * FROM receipts WHERE command_id = ?", (command_id,))
        row = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], row, strict=True)) if row else None

    def status_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT status, COUNT(*) FROM commands GROUP BY status").fetchall()
        return dict(rows)

    def get(self, command_id: str) -> dict[str, Any] | None:
        cur = self._db.execute("SELECT * FROM commands WHERE command_id = ?", (command_id,))
        row = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], row, strict=True)) if row else None
