"""One delivery round: each outcome of a post is stored as it should be, and the breaker only counts X failing."""

from __future__ import annotations

import pytest

from connectors.circuit_breaker import BreakerConfig, CircuitBreaker
from connectors.effectors.tweets.accounts import AccountLimitReached, AccountNotConfigured
from connectors.effectors.tweets.delivery import RetryPolicy, deliver_due, held_alert
from connectors.effectors.tweets.outbox import Outbox
from connectors.effectors.tweets.x_client import (
    PostedTweet,
    XCredentialsRefused,
    XDuplicateContent,
    XRateLimited,
    XUnavailable,
)
from streams.health.rules import fingerprint

T0 = 1_800_000_000.0


class ScriptedSender:
    """Raises the scripted error of each text (or posts it); records what it was asked."""

    def __init__(self, errors: dict[str, Exception]):
        self.errors = errors
        self.asked: list[str] = []

    def post(self, pending) -> PostedTweet:
        self.asked.append(pending.command_id)
        error = self.errors.get(pending.command_id)
        if error is not None:
            raise error
        return PostedTweet(tweet_id=f"id-{pending.command_id}", text=pending.text)


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


def queue(outbox: Outbox, *ids: str) -> None:
    commands = [{"command_id": i, "account": i.split("-")[0], "text": f"text {i}"} for i in ids]
    outbox.accept([(c, "2018-09-09") for c in commands], 17, T0)


def breaker() -> CircuitBreaker:
    config = BreakerConfig(sliding_window_size=2, minimum_number_of_calls=2, permitted_calls_in_half_open_state=1)
    return CircuitBreaker("x-api", config, clock=lambda: 0.0)


def test_a_429_waits_for_the_reset_and_is_never_given_up(outbox):
    queue(outbox, "NFL-0")
    limited = XRateLimited("429", status=429, retry_at=T0 + 900, now=T0)
    sender = ScriptedSender({"NFL-0": limited})
    for attempt in range(1, 4):  # more 429s than max_attempts: still queued
        counts = deliver_due(outbox, sender, RetryPolicy(max_attempts=2), clock=lambda a=attempt: T0 * a)
        assert counts["retry"] == 1
        row = outbox.get("NFL-0")
        assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("queued", attempt, T0 * attempt + 900)


def test_the_accounts_own_limit_defers_without_an_attempt_and_without_a_breaker_call(outbox):
    queue(outbox, "NFL-0", "NBA-0")
    b = breaker()
    reached = AccountLimitReached("limit", retry_at=T0 + 3600, now=T0)
    counts = deliver_due(outbox, ScriptedSender({"NFL-0": reached}), RetryPolicy(), lambda: T0, b)
    assert counts["waiting"] == 1 and counts["posted"] == 1
    row = outbox.get("NFL-0")
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("queued", 0, T0 + 3600)
    assert b._window.calls == 1  # only NBA's real post was recorded


def test_refused_credentials_hold_the_account_and_skip_its_other_commands_while_others_post(outbox):
    queue(outbox, "WNBA-0", "WNBA-1", "NFL-0", "NBA-0")
    sender = ScriptedSender({"WNBA-0": XCredentialsRefused("X API answered 401", status=401)})
    counts = deliver_due(outbox, sender, RetryPolicy(), lambda: T0)
    assert counts["held"] == 1 and counts["posted"] == 2
    assert "WNBA-1" not in sender.asked
    for cid in ("WNBA-0", "WNBA-1"):
        assert outbox.get(cid)["status"] == "held"
        assert outbox.receipt(cid)["detail"] == "held: credentials refused (X API answered 401)"
    assert outbox.get("WNBA-0")["attempts"] == 1 and outbox.get("WNBA-1")["attempts"] == 0
    alert = held_alert(outbox.unsent_alerts()[0])
    assert alert["fingerprint"] == fingerprint("XAccountHeld", None, "critical", account="WNBA")
    assert (alert["status"], alert["league"], alert["labels"]["account"]) == ("firing", "WNBA", "WNBA")


def test_an_account_without_credentials_is_held_as_such_without_a_request(outbox):
    queue(outbox, "WNBA-0")
    b = breaker()
    error = AccountNotConfigured("X account 'WNBA' has no credentials configured")
    deliver_due(outbox, ScriptedSender({"WNBA-0": error}), RetryPolicy(), lambda: T0, b)
    row = outbox.get("WNBA-0")
    assert (row["status"], row["attempts"], row["last_error"]) == ("held", 0, "held: no credentials")
    assert b._window.calls == 0


def test_duplicates_are_recorded_not_retried_and_5xx_retry_until_max_attempts(outbox):
    queue(outbox, "NBA-0", "NFL-0")
    errors = {"NBA-0": XDuplicateContent("403 duplicate", status=403), "NFL-0": XUnavailable("503", status=503)}
    sender = ScriptedSender(errors)
    policy = RetryPolicy(base_seconds=2.0, max_attempts=2)
    counts = deliver_due(outbox, sender, policy, lambda: T0)
    assert (counts["duplicate_content"], counts["retry"]) == (1, 1)
    assert outbox.get("NBA-0")["status"] == "duplicate" and outbox.get("NFL-0")["next_attempt_at"] == T0 + 2
    counts = deliver_due(outbox, sender, policy, lambda: T0 + 2)
    assert counts["failed"] == 1 and sender.asked.count("NBA-0") == 1
    assert outbox.receipt("NFL-0")["status"] == "failed"


def test_only_x_failing_opens_the_breaker_not_429s_or_refusals(outbox):
    queue(outbox, "NFL-0", "NFL-1", "NBA-0", "NBA-1")
    b = breaker()
    errors = {
        "NFL-0": XRateLimited("429", status=429, retry_at=T0 + 60, now=T0),
        "NFL-1": XRateLimited("429", status=429, retry_at=T0 + 60, now=T0),
        "NBA-0": XDuplicateContent("403", status=403),
    }
    deliver_due(outbox, ScriptedSender(errors), RetryPolicy(), lambda: T0, b)
    assert b.state == "CLOSED"
    queue(outbox, "WNBA-0", "WNBA-1")
    failing = {"WNBA-0": XUnavailable("503", status=503), "WNBA-1": XUnavailable("503", status=503)}
    deliver_due(outbox, ScriptedSender(failing), RetryPolicy(), lambda: T0, b)
    assert b.state == "OPEN"
