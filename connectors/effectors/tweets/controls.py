"""Operator controls of the publisher (``publisher-controls``): retry or cancel one command, pause or resume an account.

A control is applied to the outbox inside the transaction that stores the consumed positions, and its id is stored
with its outcome: each control is applied exactly once, across redeliveries and restarts. What each does:

- ``retry``: a ``failed`` or ``held`` command is queued again with fresh attempts; a failed one only while its
  account is under its rolling limit (it no longer counted as waiting). A posted or duplicate command is never
  retried (it would be posted twice): the control is refused, with the reason stored and logged.
- ``cancel``: a ``queued`` or ``held`` command becomes ``cancelled`` and is never posted, even when the command is
  redelivered (its id stays taken). A command the outbox has not seen yet is stored as cancelled right away, so
  it is never posted when it arrives.
- ``pause``: every queued command of the account, and every new one, is held (``held: paused``) until ``resume``,
  which queues them again. Held commands count as waiting, so the rolling limit holds across a pause too.

Each change of a command's status writes its receipt (``queued``, ``cancelled``, ``held``) in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.effectors.tweets.outbox_sql import (
    COUNT_WAITING,
    PAUSED,
    POST_TIMES,
    POSTED,
    RECEIPT_FROM_COMMAND,
    WAITING,
    window_text,
)
from connectors.effectors.tweets.rolling_limit import RollingLimit

TOPIC = "publisher-controls"
ACTIONS = ("retry", "cancel", "pause", "resume")
COMMAND_ACTIONS = ("retry", "cancel")
ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ControlOutcome:
    """What one control did: ``applied``, ``unchanged`` (nothing to do), ``refused`` (with why) or ``duplicate``
    (applied before); ``changed`` lists the commands whose status it changed."""

    control_id: str
    action: str
    account: str
    command_id: str | None
    outcome: str
    detail: str
    changed: tuple[str, ...] = ()


def control_id(action: str, account: str, command_id: str | None, requested_by: str, basis: str) -> str:
    """A deterministic id: the same request (the same ``basis``, e.g. its time or an idempotency key) gives the
    same id, so a repeated request is applied once."""
    digest = hashlib.sha256(f"{action}|{account}|{command_id or ''}|{requested_by}|{basis}".encode()).hexdigest()
    return f"control-{digest[:24]}"


def control_record(
    action: str,
    account: str,
    *,
    requested_by: str,
    requested_at: datetime,
    command_id: str | None = None,
    reason: str = "",
) -> dict[str, Any]:
    """A PublisherControl record (``requested_at`` timezone-aware, kept to the millisecond as Avro keeps it);
    ValueError for an unknown action, a bad account name or a command id missing or not taken."""
    if not ACCOUNT_NAME.match(account):
        raise ValueError(f"account {account[:64]!r}: must be 1-64 letters, digits, '.', '_' or '-'")
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    if (action in COMMAND_ACTIONS) != (command_id is not None):
        raise ValueError(f"{action}: a command id is {'needed' if action in COMMAND_ACTIONS else 'not taken'}")
    at = requested_at.replace(microsecond=requested_at.microsecond // 1000 * 1000)
    basis = json.dumps({"reason": reason, "requested_at": at.isoformat()}, sort_keys=True)
    return {
        "control_id": control_id(action, account, command_id, requested_by, basis),
        "action": action,
        "account": account,
        "command_id": command_id,
        "requested_by": requested_by,
        "reason": reason,
        "requested_at": at,
    }


def invalid_reason(control: dict[str, Any]) -> str | None:
    """Why a decoded control cannot be applied (it is dead-lettered), or None."""
    if control["action"] in COMMAND_ACTIONS and not control.get("command_id"):
        return f"{control['action']} control {control['control_id']} names no command_id"
    if not control["account"]:
        return f"control {control['control_id']} names no account"
    return None


def apply_control(db: sqlite3.Connection, control: dict[str, Any], limit: RollingLimit, now: float) -> ControlOutcome:
    """Apply ``control`` to the outbox (inside the caller's transaction) unless its id was applied before."""
    cid, action, account = control["control_id"], control["action"], control["account"]
    command_id = control.get("command_id")
    if db.execute("SELECT 1 FROM controls WHERE control_id = ?", (cid,)).fetchone():
        return ControlOutcome(cid, action, account, command_id, "duplicate", "applied before")
    outcome, detail, changed = _HANDLERS[action](db, control, limit, now)
    db.execute(
        "INSERT INTO controls (control_id, action, account, command_id, outcome, detail, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (cid, action, account, command_id, outcome, detail, now),
    )
    return ControlOutcome(cid, action, account, command_id, outcome, detail, tuple(changed))


def paused_accounts(db: sqlite3.Connection) -> dict[str, str]:
    """The paused accounts, with the reason given."""
    return dict(db.execute("SELECT account, reason FROM paused_accounts").fetchall())


def is_paused(db: sqlite3.Connection, account: str) -> bool:
    return db.execute("SELECT 1 FROM paused_accounts WHERE account = ?", (account,)).fetchone() is not None


def _by(control: dict[str, Any]) -> str:
    reason = f": {control['reason']}" if control.get("reason") else ""
    return f"{control['action']} by {control['requested_by']}{reason}"


Result = tuple[str, str, list[str]]


def _command(db: sqlite3.Connection, control: dict[str, Any]) -> tuple[tuple | None, str | None]:
    """The command's (account, status) row, or a refusal when it is another account's."""
    row = db.execute("SELECT account, status FROM commands WHERE command_id = ?", (control["command_id"],)).fetchone()
    if row is not None and row[0] != control["account"]:
        return row, f"command {control['command_id']} is of account {row[0]}, not {control['account']}"
    return row, None


def _retry(db: sqlite3.Connection, control: dict[str, Any], limit: RollingLimit, now: float) -> Result:
    command_id, account = control["command_id"], control["account"]
    row, mismatch = _command(db, control)
    if row is None:
        return "refused", f"command {command_id} is not in the outbox", []
    if mismatch:
        return "refused", mismatch, []
    status = row[1]
    if status in POSTED:
        return "refused", f"command {command_id} is {status}: retrying it would post it twice", []
    if status not in ("failed", "held"):
        return "refused", f"only a failed or held command can be retried; {command_id} is {status}", []
    if is_paused(db, account):
        return "refused", f"account {account} is paused: resume it first", []
    if status == "failed":  # no longer counted as waiting: queue it only if the rolling window has room
        waiting = db.execute(COUNT_WAITING, (account, *WAITING)).fetchone()[0]
        posted = [t for (t,) in db.execute(POST_TIMES, (account, *POSTED, now - limit.window_seconds))]
        if limit.remaining(posted, now) <= waiting:
            window = window_text(limit.window_seconds)
            return "refused", f"account {account} is at its limit of {limit.max_posts} tweets in any {window}", []
    detail = _by(control)
    db.execute(
        "UPDATE commands SET status = 'queued', attempts = 0, next_attempt_at = ?, last_error = NULL"
        " WHERE command_id = ?",
        (now, command_id),
    )
    db.execute(RECEIPT_FROM_COMMAND, ("queued", detail, now, command_id))
    return "applied", f"{status} command queued again ({detail})", [command_id]


def _cancel(db: sqlite3.Connection, control: dict[str, Any], limit: RollingLimit, now: float) -> Result:
    command_id, account = control["command_id"], control["account"]
    row, mismatch = _command(db, control)
    if mismatch:
        return "refused", mismatch, []
    detail = _by(control)
    if row is None:  # not consumed yet: its id is taken now, so it is never posted when it arrives
        record = json.dumps({"command_id": command_id, "account": account})
        db.execute(
            "INSERT INTO commands (command_id, account, day, text, record, status, accepted_at, last_error)"
            " VALUES (?, ?, '', '', ?, 'cancelled', ?, ?)",
            (command_id, account, record, now, detail),
        )
        db.execute(RECEIPT_FROM_COMMAND, ("cancelled", detail, now, command_id))
        return "applied", f"cancelled before the publisher received it ({detail})", [command_id]
    if row[1] not in WAITING:
        return "refused", f"only a queued or held command can be cancelled; {command_id} is {row[1]}", []
    db.execute("UPDATE commands SET status = 'cancelled', last_error = ? WHERE command_id = ?", (detail, command_id))
    db.execute(RECEIPT_FROM_COMMAND, ("cancelled", detail, now, command_id))
    return "applied", f"{row[1]} command cancelled ({detail})", [command_id]


def _pause(db: sqlite3.Connection, control: dict[str, Any], limit: RollingLimit, now: float) -> Result:
    account = control["account"]
    if is_paused(db, account):
        return "unchanged", f"account {account} is already paused", []
    db.execute(
        "INSERT INTO paused_accounts (account, reason, control_id, since) VALUES (?, ?, ?, ?)",
        (account, control.get("reason") or "", control["control_id"], now),
    )
    ids = hold_paused(db, account, f"{PAUSED} ({_by(control)})", now)
    return "applied", f"account {account} paused, {len(ids)} queued command(s) held", ids


def hold_paused(db: sqlite3.Connection, account: str, detail: str, now: float) -> list[str]:
    """Hold every queued command of the paused ``account``, each with its receipt."""
    ids = [
        cid
        for (cid,) in db.execute("SELECT command_id FROM commands WHERE account = ? AND status = 'queued'", (account,))
    ]
    for cid in ids:
        db.execute("UPDATE commands SET status = 'held', last_error = ? WHERE command_id = ?", (detail, cid))
        db.execute(RECEIPT_FROM_COMMAND, ("held", detail, now, cid))
    return ids


def _resume(db: sqlite3.Connection, control: dict[str, Any], limit: RollingLimit, now: float) -> Result:
    account = control["account"]
    if not is_paused(db, account):
        return "unchanged", f"account {account} is not paused", []
    db.execute("DELETE FROM paused_accounts WHERE account = ?", (account,))
    ids = [
        cid
        for (cid,) in db.execute(
            "SELECT command_id FROM commands WHERE account = ? AND status = 'held' AND last_error LIKE ?",
            (account, f"{PAUSED}%"),
        )
    ]
    detail = _by(control)
    for cid in ids:  # they counted as waiting while held: queuing them keeps the account within its limit
        db.execute(
            "UPDATE commands SET status = 'queued', next_attempt_at = ?, last_error = NULL WHERE command_id = ?",
            (now, cid),
        )
        db.execute(RECEIPT_FROM_COMMAND, ("queued", detail, now, cid))
    return "applied", f"account {account} resumed, {len(ids)} held command(s) queued again", ids


_HANDLERS: dict[str, Callable[[sqlite3.Connection, dict[str, Any], RollingLimit, float], Result]] = {
    "retry": _retry,
    "cancel": _cancel,
    "pause": _pause,
    "resume": _resume,
}
