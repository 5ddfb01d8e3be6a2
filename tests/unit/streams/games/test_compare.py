"""Differences between a candidate's tweets and live's: gained, lost, moved, paired within N plays."""

from __future__ import annotations

import pytest

from streams.games.compare import differences
from streams.games.play_decisions import command_id


def plays(game: str, count: int, league: str = "NFL") -> list[dict]:
    return [{"league": league, "game_id": game, "play_id": f"p{i}"} for i in range(count)]


def tweet(game: str, play: int, text: str = "", account: str = "NFL") -> dict:
    return {
        "command_id": command_id(account, game, f"p{play}"),
        "account": account,
        "game_id": game,
        "play_id": f"p{play}",
        "text": text or f"{game} at p{play}",
    }


def kinds(found: list[dict]) -> list[tuple]:
    return [(d["kind"], d["game_id"], d["play_id"], d["live_play_id"]) for d in found]


def test_the_same_tweets_are_no_difference():
    same = [tweet("g", 3), tweet("g", 9)]
    assert differences(plays("g", 20), same, list(reversed(same))) == []


def test_gained_lost_and_moved_with_their_fields():
    found = differences(
        plays("g", 40),
        candidate=[tweet("g", 5, "sooner"), tweet("g", 30, "new")],
        live=[tweet("g", 8, "later"), tweet("g", 20, "gone")],
        within=3,
    )
    assert found == [
        {"kind": "moved", "account": "NFL", "game_id": "g", "play_id": "p5", "live_play_id": "p8", "text": "sooner"},
        {"kind": "lost", "account": "NFL", "game_id": "g", "play_id": None, "live_play_id": "p20", "text": "gone"},
        {"kind": "gained", "account": "NFL", "game_id": "g", "play_id": "p30", "live_play_id": None, "text": "new"},
    ]


def test_moved_only_within_n_plays_of_the_same_game():
    candidate, live = [tweet("g", 10)], [tweet("g", 14)]
    assert kinds(differences(plays("g", 20), candidate, live, within=4)) == [("moved", "g", "p10", "p14")]
    assert kinds(differences(plays("g", 20), candidate, live, within=3)) == [
        ("gained", "g", "p10", None),
        ("lost", "g", None, "p14"),
    ]
    other_game = differences(plays("g", 20) + plays("h", 20), [tweet("g", 10)], [tweet("h", 10)], within=5)
    assert sorted(d["kind"] for d in other_game) == ["gained", "lost"]


def test_plays_count_within_their_game_not_across_games():
    # the two games' plays interleave: p4 and p6 of g are 2 plays of g apart but 4 plays of the input apart
    both = [p for pair in zip(plays("g", 10), plays("h", 10), strict=True) for p in pair]
    assert kinds(differences(both, [tweet("g", 4)], [tweet("g", 6)], within=2)) == [("moved", "g", "p4", "p6")]


def test_pairing_pairs_as_many_as_possible():
    # live at 10 and 14, candidate at 13 and 17, within 3: pairing 13 with 14 first would leave 10 and 17 apart
    found = differences(plays("g", 30), [tweet("g", 13), tweet("g", 17)], [tweet("g", 10), tweet("g", 14)], within=3)
    assert kinds(found) == [("moved", "g", "p13", "p10"), ("moved", "g", "p17", "p14")]


def test_a_redelivered_live_command_counts_once_and_commands_of_other_plays_are_not_compared():
    live = [tweet("g", 2), tweet("g", 2), tweet("other", 1)]
    assert kinds(differences(plays("g", 5), [], live)) == [("lost", "g", None, "p2")]


def test_accounts_are_compared_apart():
    nfl, nba = plays("g", 5), plays("b", 5, "NBA")
    found = differences(nfl + nba, [tweet("b", 1, account="NBA")], [tweet("g", 1)], within=10)
    assert [(d["kind"], d["account"]) for d in found] == [("lost", "NFL"), ("gained", "NBA")]


def test_a_negative_window_is_refused():
    with pytest.raises(ValueError, match="within"):
        differences([], [], [], within=-1)
