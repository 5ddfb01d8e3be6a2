"""The games step in the in-process harness: the real NFL Sunday, crashes mid-day, poison records."""

from __future__ import annotations

import gzip
import json
from functools import cache

import pytest

from connectors.testing import SAMPLE_DATA, Harness, Message, message
from schemas.json_form import from_json
from streams.exceptions import InvalidRecord
from streams.games import backtest
from streams.games.game_state import validate_play
from streams.games.steps import FLAGS_FEED, GamesStep, ScheduleCache, flag_target
from streams.runtime.steps import TableView
from streams.topics import topic

TZ = "America/New_York"
READS = {"plays": validate_play, "league-events": None}


@cache
def sunday() -> tuple[tuple[dict, ...], tuple[dict, ...]]:
    with gzip.open(SAMPLE_DATA / "nfl_2018_week1_sunday.jsonl.gz", "rt") as fh:
        plays = tuple(from_json("Play", json.loads(line)) for line in fh)
    with open(SAMPLE_DATA / "nfl_2018_week1_schedule.jsonl") as fh:
        schedule = tuple(from_json("ScheduledGame", json.loads(line)) for line in fh)
    return plays, schedule


@cache
def sunday_messages() -> tuple[Message, ...]:
    plays, schedule = sunday()
    return tuple(
        [message("league-events", game, "ScheduledGame") for game in schedule]
        + [message("plays", play) for play in plays]
    )


def harness(limit: int = 17, **options) -> Harness:
    return Harness(lambda: GamesStep(limit=limit, tz=TZ), READS, **options)


def command_ids(h: Harness) -> list[str]:
    return [c["command_id"] for c in h.outputs_of("tweet-commands")]


@cache
def uninterrupted() -> tuple[str, ...]:
    return tuple(command_ids(harness().run(sunday_messages())))


def test_the_step_tweets_the_plays_the_backtest_tweets():
    plays, schedule = sunday()
    tweeted = [d["play_id"] for d in backtest.run(plays, schedule, budget=17, tz=TZ) if d["tweet"]]
    h = harness().run(sunday_messages())
    assert [c["play_id"] for c in h.outputs_of("tweet-commands")] == tweeted
    assert len(tweeted) == 15 and not h.dead_letters  # a day that leaves two of its 17 tweets unspent
    finals = {s["game_id"]: s for s in h.outputs_of("game-state") if s["status"] == "final"}
    assert (finals["2018090905"]["home_score"], finals["2018090905"]["away_score"]) == (27, 20)  # HOU @ NE
    assert h.tables["games"]["2018090905"]["plays_seen"] == sum(p["game_id"] == "2018090905" for p in plays)
    budget = h.outputs_of("tweet-budgets")[-1]
    assert (budget["used"], budget["limit"]) == (15, 17)


@pytest.mark.parametrize("sent", [False, True], ids=["outputs-lost", "outputs-sent"])
def test_crashes_mid_day_neither_repeat_a_new_id_nor_lose_a_command(sent):
    reference = uninterrupted()
    n = len(sunday_messages())
    h = harness(batch_size=64).run(
        sunday_messages(), abort_after=[n // 3, n // 2 + 7, n - 40], outputs_sent_before_abort=sent
    )
    assert h.aborts == 3
    got = command_ids(h)
    if sent:  # at-least-once: what the dying batches had sent comes again with the same ids
        assert set(got) == set(reference) and len(got) >= len(reference)
    else:
        assert got == list(reference)


def test_a_crash_at_every_batch_boundary_region_keeps_the_commands():
    reference = uninterrupted()
    n = len(sunday_messages())
    h = harness(batch_size=200).run(sunday_messages(), abort_after=range(150, n, 211), outputs_sent_before_abort=False)
    assert h.aborts == len(range(150, n, 211))
    assert command_ids(h) == list(reference)


def test_poison_records_are_dead_lettered_and_change_no_tweet():
    plays, _ = sunday()
    messages = list(sunday_messages())
    middle = len(messages) // 2
    year_one = {**plays[100], "play_id": "year-one", "sequence": 10**6, "occurred_at": "0001-01-01T00:00:00Z"}
    huge = {**plays[101], "play_id": "huge", "sequence": 10**6 + 1, "description": "x" * (5 * 1024 * 1024)}
    ancient_game = {
        "league": "NFL",
        "game_id": "ancient",
        "home_team": "NE",
        "away_team": "HOU",
        "scheduled_start": "0001-01-01T00:00:00Z",
    }
    poison = [
        message("plays", from_json("Play", year_one)),
        message("plays", huge),
        message("league-events", from_json("ScheduledGame", ancient_game), "ScheduledGame"),
    ]
    h = harness(batch_size=100).run(messages[:middle] + poison + messages[middle:])

    assert command_ids(h) == list(uninterrupted())
    assert "ancient" not in h.tables["schedule"]
    letters = {letter["offset"]: letter for letter in h.dead_letters}
    assert sorted(letters) == [middle, middle + 1, middle + 2]
    assert letters[middle]["reason"].startswith("invalid play: occurred_at 0001-01-01 00:00:00+00:00 is not within")
    assert letters[middle]["value"] == poison[0].value
    big = letters[middle + 1]
    assert big["value"] == b"" and f"plays[0]@{middle + 1}" in big["reason"]
    assert f"value of {len(poison[1].value)} bytes exceeds" in big["reason"]
    assert "invalid scheduled game: scheduled_start 0001-01-01" in letters[middle + 2]["reason"]
    assert {letter["source_topic"] for letter in h.dead_letters} == {"plays", "league-events"}


def test_a_bad_schedule_entry_already_in_the_table_does_not_break_the_index():
    good = {"league": "NFL", "game_id": "g1", "scheduled_start": "2018-09-09T17:00:00Z"}
    bad = {"league": "NFL", "game_id": "g0", "scheduled_start": "0001-01-01T00:00:00Z"}
    view = TableView({"schedule": {"g0": bad, "g1": good}})
    assert ScheduleCache(TZ).index(view).games_on("NFL", "2018-09-09") == ("g1",)


def tweets_flag(value: str, league: str = "NFL") -> Message:
    record = {
        "flag_id": f"tweets.actions@{league}",
        "name": "tweets.actions",
        "value": value,
        "league": league,
        "set_by": "ops",
        "set_at": sunday()[0][0]["occurred_at"],
        "reason": "test",
    }
    return message("games-flags", record, "FeatureFlag", partition=FLAGS_FEED.partition_of(record))


def flagged_harness() -> Harness:
    return Harness(lambda: GamesStep(limit=17, tz=TZ), {**READS, "games-flags": None})


def test_an_account_switched_off_decides_and_records_but_emits_no_tweet_until_switched_back_on():
    messages = sunday_messages()
    off = flagged_harness().run([tweets_flag("off"), *messages])
    assert off.outputs_of("tweet-commands") == []
    assert off.outputs_of("tweet-budgets")[-1]["used"] == 15  # decided as when on: the budget counts it
    assert off.tables["tweet_flags"]["NFL"]["value"] == "off"
    half = len(messages) // 2
    h = flagged_harness().run([tweets_flag("off"), *messages[:half], tweets_flag("on"), *messages[half:]])
    resumed = command_ids(h)
    assert resumed and tuple(resumed) == uninterrupted()[-len(resumed) :]
    # another account's flag changes nothing for NFL
    other = flagged_harness().run([tweets_flag("off", "NBA"), *messages])
    assert tuple(command_ids(other)) == uninterrupted()


def test_only_tweets_flags_go_to_the_games_and_to_their_league_partition():
    flag = {"flag_id": "tweets.actions@NBA", "name": "tweets.actions", "value": "off", "league": "NBA"}
    assert flag_target("FeatureFlag", flag) == (b"tweets.actions@NBA", topic("plays").partition_of({"league": "NBA"}))
    assert flag_target("FeatureFlag", {**flag, "flag_id": "scaling.actions", "name": "scaling.actions"}) is None
    with pytest.raises(InvalidRecord):
        flag_target("FeatureFlag", {**flag, "value": "maybe"})
