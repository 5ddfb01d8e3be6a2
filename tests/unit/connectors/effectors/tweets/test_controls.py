"""Operator controls on the outbox: retry, cancel, pause and resume change the commands' statuses as documented,
each control applies once, and every status change writes its receipt."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.effectors.tweets.controls import control_record, invalid_reason
from connectors.effectors.tweets.outbox import Outbox
from connectors.effectors.tweets.rolling_limit import RollingLimit

T0 = 1_800_000_000.0
AT = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


def cmd(account: str, n: int) -> tuple[dict, str]:
    return {"command_id": f"{account}-{n}", "account": account, "text": f"{account} tweet {n}"}, "2018-09-09"


def control(action: str, account: str, command_id: str | None = None, n: int = 0, reason: str = "ops said so"):
    return control_record(
        action, account, requested_by="ops", requested_at=AT.replace(second=n), command_id=command_id, reason=reason
    )


def apply(outbox: Outbox, *controls: dict, limit: int | RollingLimit = 17, now: float = T0 + 100):
    return outbox.store([("control", c) for c in controls], limit, now).controls


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


def status(outbox: Outbox, command_id: str) -> str:
    return outbox.get(command_id)["status"]


def test_a_failed_command_is_queued_again_with_fresh_attempts_and_a_receipt(outbox):
    outbox.accept([cmd("NFL", 0)], 17, T0)
    outbox.mark_failed("NFL-0", "X API answered 500", T0 + 1)
    [outcome] = apply(outbox, control("retry", "NFL", "NFL-0", reason="X is back"))
    assert (outcome.outcome, outcome.changed) == ("applied", ("NFL-0",))
    row = outbox.get("NFL-0")
    assert (row["status"], row["attempts"], row["next_attempt_at"], row["last_error"]) == ("queued", 0, T0 + 100, None)
    assert [p.command_id for p in outbox.due(T0 + 100)] == ["NFL-0"]
    receipt = outbox.receipt("NFL-0")
    assert (receipt["status"], receipt["detail"], receipt["sent"]) == ("queued", "retry by ops: X is back", 0)


@pytest.mark.parametrize("final", ["posted", "duplicate"])
def test_a_posted_or_duplicate_command_is_never_retried(outbox, final):
    outbox.accept([cmd("NFL", 0)], 17, T0)
    if final == "posted":
        outbox.mark_posted("NFL-0", "t0", T0 + 1)
    else:
        outbox.mark_duplicate("NFL-0", "duplicate content", T0 + 1)
    receipt_before = outbox.receipt("NFL-0")
    [outcome] = apply(outbox, control("retry", "NFL", "NFL-0"))
    assert outcome.outcome == "refused"
    assert outcome.detail == f"command NFL-0 is {final}: retrying it would post it twice"
    assert status(outbox, "NFL-0") == final and outbox.receipt("NFL-0") == receipt_before  # the receipt stays
    assert outbox.control(outcome.control_id)["outcome"] == "refused"


def test_retry_is_refused_for_another_accounts_command_an_unknown_one_and_a_queued_one(outbox):
    outbox.accept([cmd("NFL", 0)], 17, T0)
    outcomes = apply(
        outbox,
        control("retry", "NBA", "NFL-0"),
        control("retry", "NFL", "NFL-9", n=1),
        control("retry", "NFL", "NFL-0", n=2),
    )
    assert [o.detail for o in outcomes] == [
        "command NFL-0 is of account NFL, not NBA",
        "command NFL-9 is not in the outbox",
        "only a failed or held command can be retried; NFL-0 is queued",
    ]
    assert {o.outcome for o in outcomes} == {"refused"} and status(outbox, "NFL-0") == "queued"


def test_retrying_a_failed_command_keeps_the_account_within_its_rolling_limit(outbox):
    limit = RollingLimit(max_posts=2)
    outbox.accept([cmd("NBA", 0), cmd("NBA", 1)], limit, T0)
    outbox.mark_failed("NBA-0", "X API answered 500", T0 + 1)
    outbox.accept([cmd("NBA", 2)], limit, T0 + 2)  # the failed one left room for another
    [refused] = apply(outbox, control("retry", "NBA", "NBA-0"), limit=limit)
    assert (refused.outcome, refused.detail) == ("refused", "account NBA is at its limit of 2 tweets in any 24 hours")
    outbox.mark_posted("NBA-1", "t1", T0 + 3)
    outbox.mark_posted("NBA-2", "t2", T0 + 4)
    # a full window after the first post, there is room again
    [applied] = apply(outbox, control("retry", "NBA", "NBA-0", n=1), limit=limit, now=T0 + 3 + 86_400)
    assert applied.outcome == "applied" and status(outbox, "NBA-0") == "queued"


def test_cancelled_commands_are_never_posted_even_when_redelivered(outbox):
    outbox.accept([cmd("NFL", 0), cmd("NFL", 1), cmd("NFL", 2)], 17, T0)
    outbox.hold_account("NFL", "held: credentials refused (401)", T0 + 1)  # NFL-0..2 held
    outbox.requeue_held()
    outbox.mark_posted("NFL-2", "t2", T0 + 2)
    outbox.hold_account("NFL", "held: credentials refused (401)", T0 + 3, attempted="NFL-1")
    outcomes = apply(
        outbox,
        control("cancel", "NFL", "NFL-0"),  # held
        control("cancel", "NFL", "NFL-2", n=1),  # posted: refused
        control("cancel", "NFL", "NFL-7", n=2),  # not received yet
    )
    assert [o.outcome for o in outcomes] == ["applied", "refused", "applied"]
    assert outcomes[1].detail == "only a queued or held command can be cancelled; NFL-2 is posted"
    assert [status(outbox, c) for c in ("NFL-0", "NFL-2", "NFL-7")] == ["cancelled", "posted", "cancelled"]
    assert outbox.receipt("NFL-0")["status"] == outbox.receipt("NFL-7")["status"] == "cancelled"
    # redelivered (or arriving late): the ids are taken, nothing is queued, a restart requeues only NFL-1
    assert outbox.accept([cmd("NFL", 0), cmd("NFL", 7)], 17, T0 + 200)["duplicate"] == 2
    assert outbox.requeue_held() == 1
    assert [p.command_id for p in outbox.due(T0 + 300)] == ["NFL-1"]
    # and a cancelled command cannot be retried
    [retry] = apply(outbox, control("retry", "NFL", "NFL-0", n=3))
    assert retry.detail == "only a failed or held command can be retried; NFL-0 is cancelled"


def test_each_control_applies_once(outbox):
    outbox.accept([cmd("NFL", 0)], 17, T0)
    outbox.mark_failed("NFL-0", "X API answered 500", T0 + 1)
    retry = control("retry", "NFL", "NFL-0")
    [first] = apply(outbox, retry)
    outbox.mark_failed("NFL-0", "X API answered 500 again", T0 + 200)
    [again] = apply(outbox, retry)  # redelivered after a crash, or sent twice
    assert (first.outcome, again.outcome) == ("applied", "duplicate")
    assert status(outbox, "NFL-0") == "failed"


def test_a_paused_account_holds_queued_and_new_commands_until_resumed_within_its_limit(outbox):
    limit = RollingLimit(max_posts=3)
    outbox.accept([cmd("WNBA", 0), cmd("WNBA", 1), cmd("NFL", 0)], limit, T0)
    [paused] = apply(outbox, control("pause", "WNBA", reason="bad night"), limit=limit)
    assert paused.changed == ("WNBA-0", "WNBA-1")
    assert outbox.paused_accounts() == {"WNBA": "bad night"}
    counts = outbox.accept([cmd("WNBA", 2), cmd("WNBA", 3)], limit, T0 + 200)
    assert (counts["paused"], counts["over_limit"]) == (1, 1)  # held commands count as waiting
    assert [p.account for p in outbox.due(T0 + 300)] == ["NFL"]
    held = [outbox.get(f"WNBA-{i}") for i in range(3)]
    assert all(r["status"] == "held" and r["last_error"].startswith("held: paused") for r in held)
    assert outbox.receipt("WNBA-0")["detail"] == "held: paused (pause by ops: bad night)"
    assert outbox.receipt("WNBA-2")["status"] == "held"
    # a restart tries the credential-held accounts again, never the paused one; a second pause changes nothing
    assert outbox.requeue_held() == 0
    [again] = apply(outbox, control("pause", "WNBA", n=1), limit=limit)
    assert (again.outcome, again.detail) == ("unchanged", "account WNBA is already paused")
    [resumed] = apply(outbox, control("resume", "WNBA", n=2), limit=limit)
    assert (resumed.outcome, sorted(resumed.changed)) == ("applied", ["WNBA-0", "WNBA-1", "WNBA-2"])
    assert outbox.paused_accounts() == {}
    assert sorted(p.command_id for p in outbox.due(T0 + 300)) == ["NFL-0", "WNBA-0", "WNBA-1", "WNBA-2"]
    assert {outbox.receipt(f"WNBA-{i}")["status"] for i in range(3)} == {"queued"}
    [not_paused] = apply(outbox, control("resume", "WNBA", n=3), limit=limit)
    assert (not_paused.outcome, not_paused.detail) == ("unchanged", "account WNBA is not paused")


def test_a_paused_account_keeps_its_credential_hold_and_refuses_retries_until_resumed(outbox):
    outbox.accept([cmd("NBA", 0), cmd("NBA", 1)], 17, T0)
    outbox.hold_account("NBA", "held: credentials refused (401)", T0 + 1, attempted="NBA-0")
    apply(outbox, control("pause", "NBA"))
    [retry] = apply(outbox, control("retry", "NBA", "NBA-0", n=1))
    assert (retry.outcome, retry.detail) == ("refused", "account NBA is paused: resume it first")
    [resumed] = apply(outbox, control("resume", "NBA", n=2))
    assert resumed.changed == ()  # held for its credentials, not by the pause: a restart or a retry requeues them
    [retry] = apply(outbox, control("retry", "NBA", "NBA-0", n=3))
    assert retry.outcome == "applied" and status(outbox, "NBA-0") == "queued" and status(outbox, "NBA-1") == "held"


def test_controls_and_commands_of_one_batch_apply_in_order(outbox):
    first, second = cmd("NFL", 0), cmd("NFL", 1)
    result = outbox.store(
        [("command", first), ("control", control("pause", "NFL")), ("command", second)],
        17,
        T0,
        {("tweet-commands", 0): 2, ("publisher-controls", 1): 1},
    )
    assert (result.counts["queued"], result.counts["paused"]) == (1, 1)  # the first was queued, then held
    assert status(outbox, "NFL-0") == status(outbox, "NFL-1") == "held"
    assert outbox.positions() == {("tweet-commands", 0): 2, ("publisher-controls", 1): 1}


def test_a_control_record_has_a_deterministic_id_and_bad_ones_are_named():
    a = control("retry", "NFL", "NFL-0")
    assert a == control("retry", "NFL", "NFL-0") and a["control_id"].startswith("control-")
    assert control("retry", "NFL", "NFL-0", n=1)["control_id"] != a["control_id"]
    assert control("retry", "NFL", "NFL-0", reason="other")["control_id"] != a["control_id"]
    with pytest.raises(ValueError, match="retry: a command id is needed"):
        control("retry", "NFL")
    with pytest.raises(ValueError, match="pause: a command id is not taken"):
        control("pause", "NFL", "NFL-0")
    assert invalid_reason({**a, "command_id": None}) == f"retry control {a['control_id']} names no command_id"
    assert invalid_reason(control("pause", "NFL")) is None
