"""A budget rebuilt from the publisher's receipts: an account whose budget state was lost (the broker lost the
table) counts what it already posted, so it never tweets past its limit; a normal run is unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.testing import Harness
from streams.games.steps import GamesStep, PostedTweets
from streams.games.tweet_budget import new_state, room_now, seeded, tweets_left
from tests.unit.streams.games.test_steps import READS, TZ, sunday, sunday_messages, uninterrupted

KICKOFF = datetime(2018, 9, 9, 17, tzinfo=UTC)  # 13:00 ET: the slate of 2018-09-09


def receipt(n: int, at: datetime, status: str = "posted", account: str = "NFL") -> dict:
    return {"command_id": f"c{n}", "account": account, "status": status, "at": at, "tweet_id": None}


def posted(*receipts: dict) -> PostedTweets:
    tweets = PostedTweets()
    for r in receipts:
        tweets.add(r)
    return tweets


def test_posts_of_the_last_24_hours_count_in_the_window_and_those_of_the_slate_in_its_usage():
    state = new_state("NFL", "2018-09-09", 17)
    times = [(KICKOFF - timedelta(hours=h)).timestamp() for h in (1, 2, 10, 23, 25)]  # 10 h before: the last slate

    rebuilt = seeded(state, times, KICKOFF, TZ)

    assert rebuilt["used"] == 2
    assert len(rebuilt["recent"]) == 4  # 25 hours ago no longer counts
    assert room_now(rebuilt, KICKOFF.timestamp()) == 17 - 4  # the rolling window holds 4 of 17 now
    assert tweets_left(rebuilt, TZ) == 17 - 2  # at the slate's close only the slate's own 2 are still inside


def test_a_receipt_stamped_after_the_play_counts_as_posted_at_the_play():
    state = new_state("NFL", "2018-09-09", 17)
    replayed_later = [datetime(2026, 1, 1, tzinfo=UTC).timestamp()] * 3  # a 2018 day replayed in 2026

    rebuilt = seeded(state, replayed_later, KICKOFF, TZ)

    assert rebuilt["used"] == 3
    assert rebuilt["recent"] == ["2018-09-09T17:00:00Z"] * 3


def test_only_posted_and_dry_run_receipts_are_tweets_and_a_receipt_again_counts_once():
    tweets = posted(
        receipt(1, KICKOFF),
        receipt(1, KICKOFF),  # the same receipt sent again
        receipt(2, KICKOFF, "dry_run"),
        receipt(3, KICKOFF, "failed"),
        receipt(4, KICKOFF, "skipped_limit"),
        receipt(5, KICKOFF, account="NBA"),
    )
    assert tweets.times("NFL") == [KICKOFF.timestamp()] * 2
    assert tweets.times("NBA") == [KICKOFF.timestamp()]
    assert tweets.times("WNBA") == []


def commands_with(tweets: PostedTweets) -> list[dict]:
    h = Harness(lambda: GamesStep(limit=17, tz=TZ, posted=tweets), READS).run(sunday_messages())
    return h.outputs_of("tweet-commands")


def test_an_account_that_posted_its_limit_before_the_table_was_lost_tweets_no_more():
    plays, _ = sunday()
    first = datetime.fromisoformat(str(plays[0]["occurred_at"]).replace("Z", "+00:00"))
    assert commands_with(posted(*(receipt(n, first - timedelta(minutes=n)) for n in range(17)))) == []


def test_an_account_that_posted_some_tweets_has_the_rest_of_its_limit():
    plays, _ = sunday()
    first = datetime.fromisoformat(str(plays[0]["occurred_at"]).replace("Z", "+00:00"))
    commands = commands_with(posted(*(receipt(n, first - timedelta(minutes=n)) for n in range(10))))
    assert 1 <= len(commands) <= 7


def test_receipts_of_other_accounts_change_nothing():
    commands = commands_with(posted(receipt(1, KICKOFF, account="NBA")))
    assert [c["command_id"] for c in commands] == list(uninterrupted())
