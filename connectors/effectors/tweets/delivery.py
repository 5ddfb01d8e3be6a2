"""Delivering the outbox's due tweets: one attempt each, every outcome recorded, never beyond an account's limits.

Pure of Kafka: the outbox, a sender (``AccountPoster``, the legacy bearer ``XSender`` or the dry-run log), a retry
policy, a clock and optionally the ``x-api`` circuit breaker. The outcomes of one attempt:

- posted: the post time is stored (the rolling window counts it), the account's hold, if any, is resolved;
- refused before any request (``exc.sent`` False: the account's rolling limit or a window X reported spent):
  deferred until ``exc.retry_at``, no attempt counted, the breaker permission given back;
- 429: tried again at the reset X reported, never given up (X is up: not a breaker failure);
- both wait ``exc.retry_after`` (the time to ``retry_at`` when the error was raised) on the delivery's own clock;
- credentials missing or refused (``exc.hold_account``, incl. a real 401/403): every waiting command of the
  account is held (``held: credentials refused`` / ``held: no credentials``), an alert fires, and the account's
  other due commands are skipped this round while the other accounts go on;
- 403 duplicate content: recorded as ``duplicate``, never retried;
- 5xx, network: retried with backoff up to ``max_attempts``; other refusals: failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from connectors.circuit_breaker import CallNotPermitted, CircuitBreaker
from connectors.effectors.tweets.accounts import AccountNotConfigured
from connectors.effectors.tweets.outbox import Outbox, Pending
from connectors.effectors.tweets.x_client import PostedTweet, XApiError, XRateLimited
from streams.health.rules import fingerprint

log = logging.getLogger(__name__)

HELD_REFUSED = "held: credentials refused"
HELD_NO_CREDENTIALS = "held: no credentials"
HELD_ALERT = "XAccountHeld"
LEAGUES = ("NFL", "NBA", "WNBA")


class Sender(Protocol):
    def post(self, pending: Pending) -> PostedTweet: ...


@dataclass
class RetryPolicy:
    base_seconds: float = 1.0
    max_seconds: float = 300.0
    max_attempts: int = 8

    def delay(self, attempts_done: int, retry_after: float | None = None) -> float:
        """Seconds to wait after ``attempts_done`` failed attempts (1, 2, 4 ... capped; retry-after wins)."""
        backoff = min(self.max_seconds, self.base_seconds * 2 ** max(attempts_done - 1, 0))
        return max(backoff, retry_after or 0.0)


def deliver_due(
    outbox: Outbox,
    sender: Sender,
    policy: RetryPolicy,
    clock: Callable[[], float] = time.time,
    breaker: CircuitBreaker | None = None,
) -> dict[str, int]:
    """Try every due command once (see the module docstring); returns counts of posted, retry, waiting (deferred
    by a limit, no request), held, duplicate_content, failed and blocked (breaker OPEN: the remaining due
    commands stay queued, no attempt counted)."""
    counts = dict.fromkeys(("posted", "retry", "waiting", "held", "duplicate_content", "failed", "blocked"), 0)
    due = outbox.due(clock())
    receipt_status = getattr(sender, "receipt_status", "posted")
    held: set[str] = set()
    for i, pending in enumerate(due):
        if pending.account in held:
            continue  # held with its account, in the same transaction
        if breaker is not None:
            try:
                breaker.acquire()
            except CallNotPermitted as exc:
                counts["blocked"] = len(due) - i
                log.debug("%s: %d due tweet(s) wait in the outbox", exc, len(due) - i)
                break
        started = time.monotonic()
        try:
            posted = sender.post(pending)
        except XApiError as exc:
            if breaker is not None:
                _settle_breaker(breaker, exc, time.monotonic() - started)
            outcome = record_failure(outbox, pending, exc, policy, clock())
            counts[outcome] += 1
            if outcome == "held":
                held.add(pending.account)
            continue
        except BaseException:
            if breaker is not None:
                breaker.release()
            raise
        if breaker is not None:
            breaker.on_success(time.monotonic() - started)
        outbox.mark_posted(pending.command_id, posted.tweet_id, clock(), receipt_status)
        counts["posted"] += 1
        log.info("tweeted for %s: %s", pending.account, pending.text)
    return counts


def _settle_breaker(breaker: CircuitBreaker, exc: XApiError, duration: float) -> None:
    """Only an unreachable or failing X counts against the breaker: no request made gives the permission back,
    a 429 or a refusal means X is up."""
    if not exc.sent:
        breaker.release()
    elif exc.retryable and not isinstance(exc, XRateLimited):
        breaker.on_error(duration)
    else:
        breaker.on_success(duration)


def record_failure(outbox: Outbox, pending: Pending, exc: XApiError, policy: RetryPolicy, now: float) -> str:
    """Store the outcome of a post that raised ``exc``; returns its count key."""
    cid, attempts = pending.command_id, pending.attempts + 1
    if exc.hold_account:
        reason = HELD_NO_CREDENTIALS if isinstance(exc, AccountNotConfigured) else f"{HELD_REFUSED} ({exc})"
        n = outbox.hold_account(pending.account, reason, now, attempted=cid if exc.sent else None)
        log.error("X account %s: %d tweet(s) %s", pending.account, n, reason)
        return "held"
    if not exc.sent:
        outbox.defer(cid, str(exc), now + (exc.retry_after or 0.0))
        log.info("tweet %s waits: %s", cid, exc)
        return "waiting"
    log.warning("tweet %s not posted (attempt %d): %s", cid, attempts, exc)
    if isinstance(exc, XRateLimited):  # never given up: X said when the account may post again
        wait = exc.retry_after if exc.retry_after is not None else policy.delay(attempts)
        outbox.mark_retry(cid, str(exc), now + wait)
        return "retry"
    if exc.duplicate:
        outbox.mark_duplicate(cid, str(exc), now)
        return "duplicate_content"
    if exc.retryable and attempts < policy.max_attempts:
        outbox.mark_retry(cid, str(exc), now + policy.delay(attempts, exc.retry_after))
        return "retry"
    outbox.mark_failed(cid, str(exc), now)
    return "failed"


def held_alert(row: dict[str, Any]) -> dict[str, Any]:
    """The Alert of an account hold row: firing while the account is held, resolved once it posts again."""
    account, status = row["account"], row["alert"]
    if status == "firing":
        summary = f"X account {account} is {row['reason']}; its tweets wait in the outbox"
    else:
        summary = f"X account {account} posts again"
    return {
        "fingerprint": fingerprint(HELD_ALERT, None, "critical", account=account),
        "alertname": HELD_ALERT,
        "server_id": None,
        "league": account if account in LEAGUES else None,
        "severity": "critical",
        "status": status,
        "value": None,
        "threshold": None,
        "summary": summary,
        "suggestion": (
            f"Check {account}'s OAuth 1.0a keys (WIREREPORT_X_ACCOUNTS_FILE) and the app's Read and Write permission,"
            " then restart its publisher: the held tweets are tried again."
        ),
        "at": datetime.fromtimestamp(row["at"], UTC),
        "starts_at": datetime.fromtimestamp(row["since"], UTC),
        "labels": {"account": account, "source": "tweet-publisher"},
    }
