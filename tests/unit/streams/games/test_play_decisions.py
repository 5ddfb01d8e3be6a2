"""The decision state machine on a real game: redeliveries, one tweet per moment, states as JSON."""

from __future__ import annotations

import gzip
import json

import pytest

from connectors.testing import SAMPLE_DATA
from streams.games.play_decisions import command_id, decide, same_moment, try_pending

SAMPLE = SAMPLE_DATA


@pytest.fixture(scope="module")
def chi_gb() -> list[dict]:
    with gzip.open(SAMPLE / "nfl_2018_week1_sunday.jsonl.gz", "rt") as fh:
        return [p for p in map(json.loads, fh) if p["game_id"] == "2018090912"]


def _run(plays, limit=17):
    games, budget, decisions = {}, None, []
    for play in plays:
        decision, games[play["game_id"]], budget = decide(play, games.get(play["game_id"]), budget, [], limit=limit)
        decisions.append(decision)
    return decisions, games, budget


def test_the_game_winner_is_tweeted_with_a_deterministic_command(chi_gb):
    decisions, games, budget = _run(chi_gb)
    tweets = [d for d in decisions if d["tweet"]]
    assert tweets and budget["used"] == len(tweets)
    # Rodgers to Cobb, 75 yards, 2:13 left: the TD ties 23-23 with the try pending, the extra point wins it
    winner = max(tweets, key=lambda d: d["significance"])
    assert "Packers" in winner["text"] and "24" in winner["text"] and "R.Cobb" in winner["text"]
    cmd = winner["command"]
    assert cmd["command_id"] == command_id("NFL", "2018090912", winner["play_id"])
    assert cmd["account"] == "NFL" and cmd["significance"] == winner["significance"]
    json.dumps(games) and json.dumps(budget)  # states are JSON-able


def test_redelivered_plays_change_nothing(chi_gb):
    decisions, games, budget = _run(chi_gb)
    tweeted = [p for p, d in zip(chi_gb, decisions, strict=True) if d["tweet"]]
    state = games["2018090912"]
    for play in tweeted:
        again, new_state, new_budget = decide(play, state, budget, [])
        assert not again["tweet"] and new_state is state and new_budget["used"] == budget["used"]


def test_a_touchdown_waits_for_its_try(chi_gb):
    td = next(p for p in chi_gb if (p["home_score"], p["away_score"]) == (23, 23))
    assert try_pending(td, 17, 23)
    decisions, _, _ = _run(chi_gb)
    by_id = {d["play_id"]: d for d in decisions}
    assert not by_id[td["play_id"]]["tweet"]


def test_zero_budget_never_tweets(chi_gb):
    decisions, _, budget = _run(chi_gb, limit=0)
    assert not any(d["tweet"] for d in decisions) and budget["used"] == 0


def test_a_new_lead_change_soon_after_another_is_a_new_moment():
    """KC-LA 2018: KC's go-ahead extra point, then LA's go-ahead touchdown under 3 minutes later (both lead_change)."""
    game = {
        "plays_seen": 10, "last_tweet_index": 1, "last_tweet_value": 0.6, "last_tweet_style": "lead_change",
        "last_tweet_at": "2018-11-20T04:17:00Z", "last_tweet_leader": "away",
    }  # fmt: skip
    sig = {"value": 0.67, "style": "lead_change"}
    la_ahead = {"home_score": 54, "away_score": 51, "occurred_at": "2018-11-20T04:19:30Z"}
    assert not same_moment(game, sig, la_ahead)
    kc_again = {"home_score": 47, "away_score": 54, "occurred_at": "2018-11-20T04:19:30Z"}
    assert same_moment(game, sig, kc_again)  # same leader, same style, within SAME_STYLE_SECONDS
