"""Folding plays into a game's state; domain validation of plays."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.exceptions import InvalidRecord
from streams.games.game_state import apply_play, validate_play, validate_scheduled_game


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
        ({"home_score": -1}, "home_score -1 is not 0-300"),
        ({"home_score": 2147483647}, "home_score 2147483647 is not 0-300"),
        ({"period": 0}, "period 0 is not 1-10"),
        ({"period": 99}, "period 99 is not 1-10"),
        ({"clock_seconds": -5}, r"clock_seconds -5 is not 0-900 \(a NFL period 1\)"),
        ({"clock_seconds": 99999}, r"clock_seconds 99999 is not 0-900"),
        ({"period": 5, "clock_seconds": 901}, r"clock_seconds 901 is not 0-900 \(a NFL period 5\)"),
        ({"league": "NBA", "clock_seconds": 721}, r"clock_seconds 721 is not 0-720"),
        ({"league": "NBA", "period": 5, "clock_seconds": 301}, r"clock_seconds 301 is not 0-300"),
        ({"league": "WNBA", "clock_seconds": 601}, r"clock_seconds 601 is not 0-600"),
        ({"league": "MLB"}, "league 'MLB' is not one of NFL, NBA, WNBA"),
        ({"occurred_at": datetime(1, 1, 1, tzinfo=UTC)}, "occurred_at 0001-01-01 00:00:00[+]00:00 is not within"),
        (
            {"occurred_at": "2100-01-01T00:00:00Z"},
            "occurred_at 2100-01-01T00:00:00Z is not within 2000-01-01..2100-01-01",
        ),
        ({"occurred_at": "yesterday"}, "occurred_at 'yesterday' is not a timestamp"),
        ({"sequence": 10**12}, "sequence 1000000000000 is not 0-1000000"),
        ({"sequence": -1}, "sequence -1 is not 0-1000000"),
        ({"play_id": "p" * 65}, "play_id of 65 characters is over 64"),
        ({"description": "x" * 5_000_000}, "description of 5000000 characters is over 2000"),
        ({"event_type": ""}, "event_type is empty"),
        ({"yards_to_go": 101}, "yards_to_go 101 is not 0-100"),
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


def test_every_broken_bound_is_named_in_one_reason():
    with pytest.raises(InvalidRecord) as caught:
        validate_play(play(1, period=99, clock_seconds=99999, home_score=2147483647))
    assert str(caught.value) == (
        "invalid play: home_score 2147483647 is not 0-300; period 99 is not 1-10;"
        " clock_seconds 99999 is not 0-900 (a NFL period 99)"
    )


def test_the_longest_valid_values_pass():
    validate_play(play(1, 300, 300, period=10, clock_seconds=900, sequence=1_000_000, description="x" * 2000))
    validate_play(play(1, occurred_at="2000-01-01T00:00:00Z"))
    validate_play(play(1, occurred_at=datetime(2099, 12, 31, 23, 59)))  # naive: taken as UTC


def test_a_scheduled_game_starting_in_year_one_is_rejected():
    game = {"league": "NFL", "game_id": "g", "home_team": "NE", "away_team": "HOU"}
    with pytest.raises(InvalidRecord, match="scheduled_start 0001-01-01T00:00:00Z is not within"):
        validate_scheduled_game({**game, "scheduled_start": "0001-01-01T00:00:00Z"})
    validate_scheduled_game({**game, "scheduled_start": datetime(2018, 9, 9, 17, tzinfo=UTC)})


def test_a_correction_takes_the_corrected_scores_and_keeps_the_status():
    state = apply_play(apply_play(None, play(1)), play(2, 7, 0))
    corrected = apply_play(state, play(2, 0, 0, description="touchdown overturned"), correction=True)
    assert (corrected["home_score"], corrected["away_score"]) == (0, 0)
    assert corrected["last_description"] == "touchdown overturned"
    assert (corrected["plays_seen"], corrected["last_sequence"], corrected["status"]) == (2, 2, "live")
    earlier = apply_play(state, play(1, 3, 0, description="an earlier play"), correction=True)
    assert (earlier["home_score"], earlier["last_description"]) == (3, "play 2")  # the last play's text stays
