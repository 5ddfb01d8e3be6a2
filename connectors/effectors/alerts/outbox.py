"""Durable outbox (SQLite): notifications to deliver, the grouper's state and the consumed offsets.

One transaction writes the new notifications, the grouper state and the input offsets together, so after a
crash the router resumes exactly where its last write left it: nothing is lost and nothing is queued twice
(notification ids are the primary key). Delivery marks rows sent; unsent rows are retried with backoff.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    id TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    sent_ms INTEGER,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS notifications_unsent ON notifications (sent_ms, next_attempt_ms);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Outbox:
    """The router's SQLite file (``data_dir/alert-router.sqlite3`` by default)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def load(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def save(self, kv: dict[str, Any], notifications: list[dict[str, Any]]) -> int:
        """Write state entries and queue notifications in ONE transaction; return how many were new."""
        new = 0
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for key, value in kv.items():
                self.db.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, json.dumps(value)))
            for note in notifications:
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO notifications (id, created_ms, payload, next_attempt_ms) VALUES (?,?,?,?)",
                    (note["notification_id"], note["created_at"], json.dumps(note), note["created_at"]),
                )
                new += cur.rowcount
        return new

    def due(self, now_ms: int, limit: int = 100) -> list[dict[str, Any]]:
        """Unsent notifications whose next attempt is due, oldest first (with ``attempts``)."""
        rows = self.db.execute(
            "SELECT payload, attempts FROM notifications WHERE sent_ms IS NULL AND next_attempt_ms <= ? "
            "ORDER BY created_ms, id LIMIT ?",
            (now_ms, limit),
        ).fetchall()
        return [{**json.loads(p), "attempts": a} for p, a in rows]

    def mark_sent(self, notification_id: str, now_ms: int) -> None:
        with self.db:
            self.db.execute(
                "UPDATE notifications SET sent_ms = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?",
                (now_ms, notification_id),
            )

    def mark_failed(self, notification_id: str, next_attempt_ms: int, error: str) -> None:
        with self.db:
            self.db.execute(
                "UPDATE notifications SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ? WHERE id = ?",
                (next_attempt_ms, error[:500], notification_id),
            )

    def counts(self) -> dict[str, int]:
        sent, unsent = self.db.execute("SELECT COUNT(sent_ms), COUNT(*) - COUNT(sent_ms) FROM notifications").fetchone()
        return {"sent": sent, "unsent": unsent}
