"""The tweet publisher's outbox: SQLite, durable across restarts, deduplicated on command id, capped per account
in any rolling 24 hours.

A command is accepted once (its id is the primary key). The cap is enforced when a command is accepted: the
account's commands posted in the rolling window (a ``RollingLimit``, counted from the post times stored here)
plus its commands still waiting (queued or held) never exceed the limit, so however often commands arrive and
whenever the waiting ones go out, no rolling window ever holds more posts than the limit. A command X refused
as duplicate content counts as a post too: X may hold it from a run that crashed before recording it.
Consumed topic offsets are stored in the same transaction as the commands they carried, so after a crash the
publisher resumes exactly after what it has stored.

Every outcome (posted, dry_run, failed, duplicate, skipped_limit, held) writes a receipt in the same transaction;
receipts stay unsent until the publisher has produced them to ``tweet-receipts`` (at-least-once, keyed by id).
An account whose credentials are missing or refused is held: its waiting commands are ``held`` and a firing
alert is stored (sent until acknowledged, like receipts), resolved when the account posts again.
Operators' controls (retry, cancel, pause, resume) are applied in the same transactions as the commands and
positions, once each (:mod:`connectors.effectors.tweets.controls`); a ``cancelled`` command is never posted.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.effectors.tweets.controls import ControlOutcome, apply_control, is_paused, paused_accounts
from connectors.effectors.tweets.outbox_sql import (
    COUNT_WAITING,
    PAUSED,
    POST_TIMES,
    POSTED,
    RECEIPT_FROM_COMMAND,
    RESOLVE_HOLD,
    SCHEMA,
    WAITING,
    window_text,
)
from connectors.effectors.tweets.rolling_limit import RollingLimit

__all__ = ["POSTED", "SCHEMA", "WAITING", "Outbox", "Pending", "StoreResult"]
COMMAND_COUNTS = ("queued", "duplicate", "over_limit", "paused")


@dataclass(frozen=True)
class StoreResult:
    """What storing a batch did: counts of the commands by outcome, and each control's outcome."""

    counts: dict[str, int]
    controls: list[ControlOutcome]


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
        limit: RollingLimit | int,
        now: float,
        positions: dict[tuple[str, int], int] | None = None,
    ) -> dict[str, int]:
        """Store ``(command JSON, day)`` pairs and the consumed positions in one transaction; a command beyond
        ``limit`` (posts in the rolling window plus waiting commands of its account) is ``over_limit``, one of a
        paused account is held (``paused``).

        Returns counts of queued, duplicate, over_limit and paused commands.
        """
        return self.store([("command", c) for c in commands], limit, now, positions).counts

    def store(
        self,
        items: Iterable[tuple[str, Any]],
        limit: RollingLimit | int,
        now: float,
        positions: dict[tuple[str, int], int] | None = None,
    ) -> StoreResult:
        """Store a consumed batch in order, in one transaction with its positions: ``("command", (command JSON,
        day))`` items as :meth:`accept` does, ``("control", PublisherControl)`` items applied once each (see
        :mod:`connectors.effectors.tweets.controls`)."""
        limit = limit if isinstance(limit, RollingLimit) else RollingLimit(limit)
        counts = dict.fromkeys(COMMAND_COUNTS, 0)
        outcomes: list[ControlOutcome] = []
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for kind, item in items:
                if kind == "control":
                    outcomes.append(apply_control(db, item, limit, now))
                else:
                    counts[self._accept_one(*item, limit, now)] += 1
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
        return StoreResult(counts, outcomes)

    def _accept_one(self, command: dict[str, Any], day: str, limit: RollingLimit, now: float) -> str:
        db = self._db
        cid, account = command["command_id"], command["account"]
        if db.execute("SELECT 1 FROM commands WHERE command_id = ?", (cid,)).fetchone():
            return "duplicate"  # seen before, or cancelled before it arrived
        waiting = db.execute(COUNT_WAITING, (account, *WAITING)).fetchone()[0]
        posted = self._post_times(account, now - limit.window_seconds)
        status = "queued" if limit.remaining(posted, now) > waiting else "over_limit"
        db.execute(
            "INSERT INTO commands (command_id, account, day, text, record, status, accepted_at, next_attempt_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (cid, account, day, command["text"], json.dumps(command), status, now, now),
        )
        if status == "over_limit":
            detail = (
                f"over the limit of {limit.max_posts} tweets in any {window_text(limit.window_seconds)} for {account}"
            )
            db.execute(RECEIPT_FROM_COMMAND, ("skipped_limit", detail, now, cid))
        elif is_paused(db, account):  # held with the account's other commands until it is resumed
            db.execute("UPDATE commands SET status = 'held', last_error = ? WHERE command_id = ?", (PAUSED, cid))
            db.execute(RECEIPT_FROM_COMMAND, ("held", PAUSED, now, cid))
            return "paused"
        return status

    def _post_times(self, account: str, since: float) -> list[float]:
        rows = self._db.execute(POST_TIMES, (account, *POSTED, since)).fetchall()
        return [t for (t,) in rows]

    def post_history(self, since: float) -> dict[str, list[float]]:
        """Each account's post times after ``since`` (an ``AccountPoster``'s ``history`` after a restart)."""
        rows = self._db.execute(
            "SELECT account, posted_at FROM commands WHERE status IN (?, ?) AND posted_at > ? ORDER BY posted_at",
            (*POSTED, since),
        ).fetchall()
        history: dict[str, list[float]] = {}
        for account, at in rows:
            history.setdefault(account, []).append(at)
        return history

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
        """Posted (``receipt_status`` dry_run for the dry-run log); writes its receipt in the same transaction, and
        resolves its account's hold if it had one."""
        self._atomic(
            (
                "UPDATE commands SET status = 'posted', posted_at = ?, tweet_id = ?, attempts = attempts + 1"
                " WHERE command_id = ?",
                (now, tweet_id, command_id),
            ),
            (RECEIPT_FROM_COMMAND, (receipt_status, f"tweet {tweet_id}", now, command_id)),
            (RESOLVE_HOLD, (now, command_id)),
        )

    def mark_retry(self, command_id: str, error: str, next_attempt_at: float) -> None:
        """A request was made and failed for now: counted as an attempt, tried again at ``next_attempt_at``."""
        self._db.execute(
            "UPDATE commands SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE command_id = ?",
            (error, next_attempt_at, command_id),
        )

    def defer(self, command_id: str, reason: str, next_attempt_at: float) -> None:
        """No request was made (the account's limit holds): tried again at ``next_attempt_at``, no attempt counted."""
        self._db.execute(
            "UPDATE commands SET last_error = ?, next_attempt_at = ? WHERE command_id = ?",
            (reason, next_attempt_at, command_id),
        )

    def mark_failed(self, command_id: str, error: str, now: float | None = None) -> None:
        """Given up; writes its receipt too."""
        at = time.time() if now is None else now
        self._atomic(
            (
                "UPDATE commands SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE command_id = ?",
                (error, command_id),
            ),
            (RECEIPT_FROM_COMMAND, ("failed", error, at, command_id)),
        )

    def mark_duplicate(self, command_id: str, error: str, now: float) -> None:
        """X refused the text as a duplicate of the account's earlier tweet: never retried, counted as a post."""
        self._atomic(
            (
                "UPDATE commands SET status = 'duplicate', posted_at = ?, attempts = attempts + 1, last_error = ?"
                " WHERE command_id = ?",
                (now, error, command_id),
            ),
            (RECEIPT_FROM_COMMAND, ("duplicate", error, now, command_id)),
        )

    def hold_account(self, account: str, reason: str, now: float, attempted: str | None = None) -> int:
        """Hold every queued command of ``account`` (``attempted``: the one whose request X refused, an attempt
        counted), each with a ``held`` receipt, and store a firing alert for the account (once: an alert already
        firing stays as it was); returns how many commands were held."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if attempted is not None:
                db.execute("UPDATE commands SET attempts = attempts + 1 WHERE command_id = ?", (attempted,))
            ids = [
                cid
                for (cid,) in db.execute(
                    "SELECT command_id FROM commands WHERE account = ? AND status = 'queued'", (account,)
                )
            ]
            for cid in ids:
                db.execute("UPDATE commands SET status = 'held', last_error = ? WHERE command_id = ?", (reason, cid))
                db.execute(RECEIPT_FROM_COMMAND, ("held", reason, now, cid))
            db.execute(
                "INSERT INTO account_holds (account, alert, reason, since, at, sent) VALUES (?, 'firing', ?, ?, ?, 0)"
                " ON CONFLICT (account) DO UPDATE SET alert = 'firing', reason = excluded.reason,"
                " since = excluded.since, at = excluded.at, sent = 0 WHERE account_holds.alert != 'firing'",
                (account, reason, now, now),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return len(ids)

    def requeue_held(self, accounts: Iterable[str] | None = None) -> int:
        """Queue the held commands again (of ``accounts``, default all): a restarted publisher tries each held
        account once more (its credentials may have been fixed). Their alert stays firing until one posts. The
        commands of a paused account stay held until it is resumed."""
        requeue = (
            "UPDATE commands SET status = 'queued', next_attempt_at = 0 WHERE status = 'held'"
            " AND account NOT IN (SELECT account FROM paused_accounts)"
        )
        if accounts is None:
            return self._db.execute(requeue).rowcount
        return sum(self._db.execute(requeue + " AND account = ?", (account,)).rowcount for account in accounts)

    def paused_accounts(self) -> dict[str, str]:
        """The accounts an operator paused, with the reason given."""
        return paused_accounts(self._db)

    def control(self, control_id: str) -> dict[str, Any] | None:
        """A control applied (or refused) before, with its outcome."""
        cur = self._db.execute("SELECT * FROM controls WHERE control_id = ?", (control_id,))
        row = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], row, strict=True)) if row else None

    def held_accounts(self) -> dict[str, str]:
        """The accounts whose hold alert is firing, with the reason."""
        return dict(self._db.execute("SELECT account, reason FROM account_holds WHERE alert = 'firing'").fetchall())

    def unsent_alerts(self) -> list[dict[str, Any]]:
        """Hold alerts (firing or resolved) not yet produced."""
        cur = self._db.execute(
            "SELECT account, alert, reason, since, at FROM account_holds WHERE sent = 0 ORDER BY at, account"
        )
        return [dict(zip([c[0] for c in cur.description], row, strict=True)) for row in cur.fetchall()]

    def mark_alerts_sent(self, alerts: Iterable[dict[str, Any]]) -> None:
        """Mark hold alerts produced, unless the hold changed meanwhile (its ``at`` changed)."""
        self._db.executemany(
            "UPDATE account_holds SET sent = 1 WHERE account = ? AND at = ?",
            [(a["account"], a["at"]) for a in alerts],
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

    def resend_receipts(self) -> int:
        """Mark every receipt unsent again (the broker lost ``tweet-receipts``); return how many."""
        return self._db.execute("UPDATE receipts SET sent = 0 WHERE sent = 1").rowcount

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
