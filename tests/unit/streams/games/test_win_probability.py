"""Win probability on real plays with known outcomes, and the Stern model's arithmetic."""

from __future__ import annotations

import gzip
import json

import pytest

from connectors.testing import SAMPLE_DATA
from streams.games.win_probability import basketball, fitting, nfl, win_prob_home

SAMPLE = SAMPLE_DATA / "nfl_2018_week1_sunday.jsonl.gz"


@pytest.fixture(scope="module")
def sunday() -> list[dict]:
    with gzip.open(SAMPLE, "rt") as fh:
        return [json.loads(line) for line in fh]


def _play(**kw) -> dict:
    base = {
        "league": "NFL", "game_id": "g", "play_id": "1", "sequence": 1, "occurred_at": "2018-09-09T17:00:00Z",
        "period": 1, "clock_seconds": 900, "home_team": "GB", "away_team": "CHI", "home_score": 0, "away_score": 0,
        "description": "", "event_type": "play", "possession": None, "down": None, "yards_to_go": None,
        "yardline_100": None,
    }  # fmt: skip
    return {**base, **kw}


def test_the_shipped_model_matches_the_features():
    model = nfl.load_model()
    assert model["features"] == list(nfl.FEATURE_NAMES)
    assert model["validation"]["brier"] < model["validation"]["baseline_margin_time_brier"]


def test_home_edge_at_kickoff_and_leads_matter_more_late():
    start = win_prob_home(_play())
    assert 0.52 < start < 0.62
    early = win_prob_home(_play(home_score=7))
    late = win_prob_home(_play(period=4, clock_seconds=120, home_score=7))
    assert start < early < late < 1.0
    assert win_prob_home(_play(period=4, clock_seconds=120, away_score=7)) < 0.1


def test_possession_and_field_position_move_the_probability():
    tied_late = {"period": 4, "clock_seconds": 60, "home_score": 20, "away_score": 20}
    home_deep = win_prob_home(_play(**tied_late, possession="GB", down=1, yards_to_go=10, yardline_100=20))
    home_own = win_prob_home(_play(**tied_late, possession="GB", down=1, yards_to_go=10, yardline_100=80))
    away_deep = win_prob_home(_play(**tied_late, possession="CHI", down=1, yards_to_go=10, yardline_100=20))
    assert home_deep > home_own > 0.5 > away_deep


def test_game_over_is_certain():
    assert win_prob_home(_play(period=4, clock_seconds=0, home_score=24, away_score=23)) == 1.0
    assert win_prob_home(_play(event_type="game_end", period=5, clock_seconds=0, home_score=21, away_score=21)) == 0.5


def test_real_sunday_brier_and_finals(sunday):
    probs = [win_prob_home(p) for p in sunday]
    assert all(0.0 <= p <= 1.0 for p in probs)
    outcomes = fitting.game_outcomes(sunday)
    labels = [outcomes[p["game_id"]] for p in sunday]
    assert fitting.brier(probs, labels) < 0.16
    # GB 24, CHI 23: Chicago led 20-0 in the 3rd; Green Bay is the favourite after the go-ahead
    gb = [(p, q) for p, q in zip(sunday, probs, strict=True) if p["game_id"] == "2018090912"]
    low = min(q for p, q in gb)
    assert low < 0.1
    go_ahead = next(q for p, q in gb if (p["home_score"], p["away_score"]) == (24, 23))
    assert go_ahead > 0.55


def test_calibration_bins_count_every_prediction():
    rows = fitting.calibration([0.05, 0.15, 0.95, 1.0], [0, 0, 1, 1])
    assert sum(r["plays"] for r in rows) == 4 and rows[-1]["observed"] == 1.0


def test_stern_brownian_model():
    nba = basketball.LEAGUES["NBA"]
    assert basketball.win_prob(nba, 0, 48) == pytest.approx(0.5 + 0.5 * 0.1713, abs=0.02)  # home edge 2.5 pts
    assert basketball.win_prob(nba, 5, 1) > basketball.win_prob(nba, 5, 12) > 0.5
    assert basketball.win_prob(nba, -3, 0.0) == 0.0
    overtime = basketball.win_prob(nba, 0, 0.0)  # tied at the buzzer: five more minutes
    assert 0.5 < overtime < 0.53
    wnba_play = _play(league="WNBA", period=5, clock_seconds=150, home_score=80, away_score=78)
    assert 0.5 < win_prob_home(wnba_play) < 1.0


def test_team_strength_shifts_the_pregame_favourite():
    from streams.games import team_ratings

    state = {"season": 2018, "ratings": {"NE": 1650.0, "BUF": 1400.0}}
    assert team_ratings.difference(state, "NE", "BUF") == 2.5
    strong_home = win_prob_home(_play(home_team="NE", away_team="BUF"), strength=2.5)
    weak_home = win_prob_home(_play(home_team="BUF", away_team="NE"), strength=-2.5)
    assert strong_home > 0.75 and weak_home < 0.45
    after = team_ratings.update(state, "BUF", "NE", 24, 3)  # an upset moves ratings more than an expected win
    assert after["ratings"]["BUF"] - 1400 > 20 and after["ratings"]["NE"] < 1650
    regressed = team_ratings.for_season(after, 2019)
    assert regressed["ratings"]["NE"] == pytest.approx(1500 + (after["ratings"]["NE"] - 1500) * 2 / 3)
    assert team_ratings.season_of("NFL", "2019-01-20") == 2018
