"""The outbox: the cap is the account's rolling 24 hours (posts stored with their time plus waiting commands),
account holds with their alert, and deferrals that count no attempt."""

from __future__ import annotations

import pytest

from connectors.effectors.tweets.outbox import Outbox
from connectors.effectors.tweets.rolling_limit import DAY_SECONDS, RollingLimit

T0 = 1_800_000_000.0


def cmd(account: str, n: int) -> tuple[dict, str]:
    return {"command_id": f"{account}-{n}", "account": account, "text": f"{account} tweet {n}"}, "2018-09-09"


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


def test_waiting_and_posted_commands_count_against_the_rolling_limit_not_the_calendar_day(outbox):
    limit = RollingLimit(max_posts=2)
    assert outbox.accept([cmd("NFL", 0), cmd("NFL", 1), cmd("NFL", 2)], limit, T0) == {
        "queued": 2, "duplicate": 0, "over_limit": 1, "paused": 0
    }  # fmt: skip
    assert outbox.receipt("NFL-2")["status"] == "skipped_limit"
    assert "limit of 2 tweets in any 24 hours" in outbox.receipt("NFL-2")["detail"]
    outbox.mark_posted("NFL-0", "t0", T0 + 10)
    outbox.mark_posted("NFL-1", "t1", T0 + 20)
    # 23 hours later both posts still count, whatever day the next play is on
    assert outbox.accept([cmd("NFL", 3)], limit, T0 + 23 * 3600)["over_limit"] == 1
    # once the first post is a full window old, one more is allowed; the other account was never affected
    assert outbox.accept([cmd("NFL", 4), cmd("NFL", 5)], limit, T0 + 10 + DAY_SECONDS)["queued"] == 1
    assert outbox.accept([cmd("NBA", 0)], limit, T0)["queued"] == 1
    assert outbox.post_history(T0) == {"NFL": [T0 + 10, T0 + 20]}


def test_a_duplicate_content_refusal_counts_as_a_post_and_is_not_queued_again(outbox):
    outbox.accept([cmd("NBA", 0), cmd("NBA", 1)], 2, T0)
    outbox.mark_duplicate("NBA-0", "X API answered 403: duplicate content", T0 + 5)
    row = outbox.get("NBA-0")
    assert (row["status"], row["attempts"], row["posted_at"]) == ("duplicate", 1, T0 + 5)
    assert outbox.receipt("NBA-0")["status"] == "duplicate"
    assert [p.command_id for p in outbox.due(T0 + 10)] == ["NBA-1"]
    assert outbox.accept([cmd("NBA", 2)], 2, T0 + 10)["over_limit"] == 1


def test_holding_an_account_holds_its_queued_commands_fires_once_and_resolves_when_it_posts(outbox):
    outbox.accept([cmd("WNBA", 0), cmd("WNBA", 1), cmd("NFL", 0)], 17, T0)
    assert outbox.hold_account("WNBA", "held: credentials refused (401)", T0 + 1, attempted="WNBA-0") == 2
    assert [p.account for p in outbox.due(T0 + 2)] == ["NFL"]
    assert [(outbox.get(i)["status"], outbox.get(i)["attempts"]) for i in ("WNBA-0", "WNBA-1")] == [
        ("held", 1), ("held", 0)
    ]  # fmt: skip
    assert {outbox.receipt(i)["status"] for i in ("WNBA-0", "WNBA-1")} == {"held"}
    [alert] = outbox.unsent_alerts()
    assert (alert["account"], alert["alert"], alert["since"]) == ("WNBA", "firing", T0 + 1)
    outbox.mark_alerts_sent([alert])

    # held again (a restart tried once more): the alert is already firing, nothing new to send
    assert outbox.requeue_held() == 2
    outbox.hold_account("WNBA", "held: credentials refused (401)", T0 + 50)
    assert outbox.unsent_alerts() == [] and outbox.held_accounts() == {"WNBA": "held: credentials refused (401)"}

    # credentials fixed: after a restart its first post resolves the alert
    outbox.requeue_held(["WNBA"])
    outbox.mark_posted("WNBA-0", "t", T0 + 100)
    [alert] = outbox.unsent_alerts()
    assert (alert["alert"], alert["at"]) == ("resolved", T0 + 100) and outbox.held_accounts() == {}
    # a later post resolves nothing more
    outbox.mark_alerts_sent([alert])
    outbox.mark_posted("WNBA-1", "t", T0 + 101)
    assert outbox.unsent_alerts() == []


def test_a_deferral_counts_no_attempt_and_a_held_command_waits_for_requeue(outbox):
    outbox.accept([cmd("NFL", 0)], 17, T0)
    outbox.defer("NFL-0", "limit reached", T0 + 600)
    row = outbox.get("NFL-0")
    assert (row["attempts"], row["next_attempt_at"], row["status"]) == (0, T0 + 600, "queued")
    assert outbox.due(T0 + 599) == [] and [p.command_id for p in outbox.due(T0 + 600)] == ["NFL-0"]
