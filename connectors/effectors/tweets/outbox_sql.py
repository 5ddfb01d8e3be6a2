"""The outbox's tables and the statements its modules share (:mod:`outbox` and :mod:`controls`)."""

from __future__ import annotations

from connectors.effectors.tweets.rolling_limit import DAY_SECONDS

SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    command_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    day TEXT NOT NULL,
    text TEXT NOT NULL,
    record TEXT NOT NULL,
    status TEXT NOT NULL,            -- queued | held | posted | failed | duplicate | over_limit | cancelled
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    accepted_at REAL NOT NULL,
    posted_at REAL,                  -- when posted (or refused by X as a duplicate): counted in the window
    tweet_id TEXT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS commands_due ON commands (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS commands_day ON commands (account, day, status);
CREATE INDEX IF NOT EXISTS commands_posted ON commands (account, status, posted_at);
CREATE TABLE IF NOT EXISTS receipts (
    command_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    status TEXT NOT NULL,            -- posted | dry_run | failed | duplicate | skipped_limit | held | queued | cancelled
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
CREATE TABLE IF NOT EXISTS account_holds (
    account TEXT PRIMARY KEY,
    alert TEXT NOT NULL,             -- firing (held) | resolved (posted again)
    reason TEXT NOT NULL,
    since REAL NOT NULL,             -- when the hold started
    at REAL NOT NULL,                -- when the alert changed
    sent INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS controls (
    control_id TEXT PRIMARY KEY,     -- each publisher control is applied once
    action TEXT NOT NULL,            -- retry | cancel | pause | resume
    account TEXT NOT NULL,
    command_id TEXT,
    outcome TEXT NOT NULL,           -- applied | refused
    detail TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS paused_accounts (
    account TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    control_id TEXT NOT NULL,
    since REAL NOT NULL
);
"""
WAITING = ("queued", "held")
POSTED = ("posted", "duplicate")
PAUSED = "held: paused"  # the last_error of the commands an operator's pause holds
RECEIPT_FROM_COMMAND = (
    "INSERT INTO receipts (command_id, account, status, tweet_id, attempts, detail, at, sent)"
    " SELECT command_id, account, ?, tweet_id, attempts, ?, ?, 0 FROM commands WHERE command_id = ?"
    " ON CONFLICT (command_id) DO UPDATE SET status = excluded.status, tweet_id = excluded.tweet_id,"
    " attempts = excluded.attempts, detail = excluded.detail, at = excluded.at, sent = 0"
)
RESOLVE_HOLD = (
    "UPDATE account_holds SET alert = 'resolved', at = ?, sent = 0"
    " WHERE account = (SELECT account FROM commands WHERE command_id = ?) AND alert = 'firing'"
)
COUNT_WAITING = "SELECT COUNT(*) FROM commands WHERE account = ? AND status IN (?, ?)"
POST_TIMES = "SELECT posted_at FROM commands WHERE account = ? AND status IN (?, ?) AND posted_at > ?"


def window_text(seconds: float) -> str:
    return "24 hours" if seconds == DAY_SECONDS else f"{seconds:g} seconds"
