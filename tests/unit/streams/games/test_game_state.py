"""Folding plays into a game's state; domain validation of plays."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.exceptions import InvalidRecord
from streams.games.game_state import apply_play, validate_play


def play(seq: int, home: int = 0, away: int = 0, event_type: str = "play", **kw) -> dict:
    base = {
        "league": "NFL",
        "game_id": "2018090905",
        "play_id": f"p{seq}",
        "sequence": seq,
        "occurred_at": datetime(2018, 9, 9, 17, seq % 60, tzinfo=UTC),
        "period": 1,
        "clock_seconds": 900 - seq,
        "home_team": "NE",
        "away_team": "HOU",
        "home_score": home,
        "away_score": away,
        "description": f"play {seq}",
        "event_type": event_type,
        "possession": "NE",
        "down": 1,
        "yards_to_go": 10,
        "yardline_100": 75,
    }
    return {**base, **kw}


def test_plays_fold_into_the_latest_score_and_count():
    state = None
    for seq, (home, away) in enumerate([(0, 0), (7, 0), (7, 3)], 1):
        state = apply_play(state, play(seq, home, away))
    assert (state["home_score"], state["away_score"], state["plays_seen"]) == (7, 3, 3)
    assert state["status"] == "live"
    assert state["last_play_id"] == "p3"


def test_a_redelivered_or_older_play_changes_nothing():
    state = apply_play(apply_play(None, play(1)), play(2, 7, 0))
    assert apply_play(state, play(2, 7, 0)) is None
    assert apply_play(state, play(1)) is None


def test_game_end_makes_the_game_final_and_it_stays_final():
    state = apply_play(apply_play(None, play(1)), play(2, 27, 20, event_type="game_end"))
    assert state["status"] == "final"
    assert apply_play(state, play(3, 27, 20))["status"] == "final"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"home_score": -1}, "home_score -1 is negative"),
        ({"period": 0}, "period 0 is below 1"),
        ({"clock_seconds": -5}, "clock_seconds -5 is negative"),
        ({"down": 5}, "down 5 is not 1-4"),
        ({"yardline_100": 120}, "yardline_100 120 is not 0-100"),
        ({"away_team": "NE"}, "both 'NE'"),
        ({"game_id": ""}, "game_id is empty"),
    ],
)
def test_impossible_values_are_rejected_with_the_reason(change, reason):
    with pytest.raises(InvalidRecord, match=reason):
        validate_play(play(1, **change))


def test_a_valid_play_passes():
    validate_play(play(1, 7, 3))
