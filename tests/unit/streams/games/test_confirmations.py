"""Basketball moments held and confirmed a few plays later, on hand-made endings of one-game NBA nights."""

from __future__ import annotations

import json

from streams.games import backtest, confirmations
from streams.games.play_decisions import command_id
from streams.games.steps import decide_for_account
from streams.games.tweet_budget import ScheduleIndex
from tests.unit.streams.games.test_basketball_moments import game

TZ = "America/New_York"


def decisions(scores):
    plays, schedule = game(scores)
    return plays, list(backtest.run(plays, schedule, 17))


def test_a_late_go_ahead_is_told_within_three_plays_and_about_itself():
    plays, made = decisions([(3, 100, 70, 72), (4, 300, 90, 93), (4, 20, 95, 94)])
    at = next(i for i, p in enumerate(plays) if (p["period"], p["clock_seconds"]) == (4, 20))
    told = [(i, d) for i, d in enumerate(made) if d["tweet"] and d["command"]["play_id"] == plays[at]["play_id"]]
    assert len(told) == 1
    i, decision = told[0]
    assert at < i <= at + confirmations.CONFIRM_PLAYS  # later, but within the moment's window
    assert "95-94" in decision["text"] and "0:20 left in the 4th" in decision["text"]
    assert decision["command"]["command_id"] == command_id("NBA", "g1", plays[at]["play_id"])


def test_a_go_ahead_answered_before_it_is_confirmed_is_never_told():
    # 95-94 with 20 s left, answered 95-96 two plays later: only the answer (the go-ahead for good) is told
    plays, made = decisions([(4, 300, 90, 93), (4, 20, 95, 94), (4, 12, 95, 96)])
    told = {d["command"]["play_id"] for d in made if d["tweet"]}
    by_clock = {(p["clock_seconds"], p["event_type"]): p["play_id"] for p in plays}
    assert by_clock[(20, "score")] not in told
    assert by_clock[(12, "score")] in told


def test_an_equalizer_is_decided_when_its_period_ends_even_without_an_end_record():
    plays, made = decisions([(4, 300, 90, 93), (4, 2, 95, 95), (5, 200, 99, 95), (5, 20, 101, 95)])
    tie = next(p["play_id"] for p in plays if (p["period"], p["clock_seconds"], p["event_type"]) == (4, 2, "score"))
    overtime_lead = next(p["play_id"] for p in plays if (p["period"], p["clock_seconds"]) == (5, 200))
    told = [d["command"]["play_id"] for d in made if d["tweet"]]
    assert tie in told and overtime_lead in told  # the first overtime play decides the tie and holds its own go-ahead


def test_a_buzzer_beater_that_ends_the_game_is_decided_on_its_play():
    plays, _ = game([(4, 300, 90, 93)])
    *before, end = plays  # the game's end record becomes the winning basket at the buzzer
    buzzer = {**end, "play_id": "buzzer", "home_score": 94}
    made = list(backtest.run([*before, buzzer], [], 17))
    assert made[-1]["tweet"] and made[-1]["command"]["play_id"] == "buzzer"
    assert made[-1]["decisive"] > 0.9


def test_a_held_moment_survives_the_state_table_round_trip():
    """The worker keeps each account's state in a table (JSON): a held moment read back decides the same."""
    plays, schedule = game([(3, 100, 70, 72), (4, 300, 90, 93), (4, 20, 95, 94), (4, 8, 97, 94)])
    index = ScheduleIndex(schedule, TZ)
    state, from_table = None, []
    for play in plays:
        decision, state = decide_for_account(play, state, index, limit=17, tz=TZ)
        state = json.loads(json.dumps(state, default=str))
        from_table.append(decision)
    assert any(s["held"] for s in [state["games"]["g1"]]) is False  # the game ended: nothing left held
    assert [d["tweet"] for d in from_table] == [d["tweet"] for d in backtest.run(plays, schedule, 17)]
    assert [d["text"] for d in from_table] == [d["text"] for d in backtest.run(plays, schedule, 17)]


def test_the_outcome_of_later_plays():
    held = {"play": {"period": 4}, "leader": "home", "index": 10, "sig": {"decisive": 0.3}}
    play = {"period": 4, "home_score": 90, "away_score": 88, "event_type": "play", "league": "NBA"}
    assert confirmations.outcome(held, play, 11, False) == "wait"
    assert confirmations.outcome(held, play, 13, False) == "decide"
    assert confirmations.outcome(held, {**play, "away_score": 91}, 11, False) == "drop"
    assert confirmations.outcome(held, {**play, "event_type": "period_end"}, 11, False) == "decide"
    assert confirmations.outcome(held, {**play, "period": 5, "away_score": 91}, 11, False) == "decide"
    assert confirmations.outcome(held, play, 11, True) == "decide"


def test_the_nfl_holds_nothing():
    sig = {"decisive": 0.8, "should_tweet": True}
    assert not confirmations.holds("NFL", sig) and confirmations.holds("NBA", sig)


def test_a_held_basket_overturned_by_a_correction_is_never_told():
    """A feed corrects the go-ahead basket (it did not count) before it is confirmed: the game takes the
    corrected score, the lead is no longer the held one, and nothing is told about the basket."""
    plays, schedule = game([(4, 300, 90, 93), (4, 20, 95, 94)])
    at = next(i for i, p in enumerate(plays) if (p["clock_seconds"], p["event_type"]) == (20, "score"))
    overturned = {**plays[at], "home_score": 93, "description": "basket overturned"}
    fed = [*plays[: at + 1], overturned, *[{**p, "home_score": p["home_score"] - 2} for p in plays[at + 1 :]]]
    made = list(backtest.run(fed, schedule, 17))
    assert made[at + 1].get("correction") is True and not made[at + 1]["tweet"]
    assert plays[at]["play_id"] not in {d["command"]["play_id"] for d in made if d["tweet"]}
