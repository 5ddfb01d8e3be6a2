"""Significance rules: late go-ahead scores, equalizers, finals, garbage time."""

from __future__ import annotations

from streams.games.significance import (
    decisive_probability,
    decisive_weights,
    holds_for_good,
    is_garbage_time,
    score_play,
)


def _play(**kw) -> dict:
    base = {
        "league": "NFL", "game_id": "g", "play_id": "1", "sequence": 1, "occurred_at": "2018-09-10T03:00:00Z",
        "period": 4, "clock_seconds": 133, "home_team": "GB", "away_team": "CHI", "home_score": 24,
        "away_score": 23, "description": "", "event_type": "score",
    }  # fmt: skip
    return {**base, **kw}


def test_late_lead_change_is_high_and_tweetable():
    sig = score_play(_play(), 17, 23, 0.30, 0.80)
    assert sig["lead_change"] and sig["clutch"] and sig["should_tweet"]
    assert sig["style"] == "lead_change" and sig["urgency"] == "high"
    assert 60 < sig["total_score"] <= 100


def test_walk_off_and_early_go_ahead():
    walk_off = score_play(_play(clock_seconds=5, home_score=26, away_score=23), 23, 23, 0.5, 0.98)
    assert walk_off["style"] == "walk_off" and walk_off["total_score"] > 90
    early = score_play(_play(period=1, clock_seconds=600, home_score=7, away_score=0), 0, 0, 0.57, 0.68)
    assert early["style"] == "go_ahead" and early["total_score"] < 30


def test_equalizer_value_grows_as_time_runs_out():
    late = score_play(_play(clock_seconds=20, home_score=23, away_score=23), 20, 23, 0.2, 0.55)
    mid = score_play(_play(clock_seconds=420, home_score=23, away_score=23), 20, 23, 0.2, 0.55)
    assert late["style"] == mid["style"] == "equalizer" and late["tie"]
    assert late["total_score"] > 60 > mid["total_score"]


def test_garbage_time_is_worth_almost_nothing():
    assert is_garbage_time("NFL", 4, 800, 17) and not is_garbage_time("NFL", 3, 10, 30)
    assert is_garbage_time("NBA", 4, 299, -15) and not is_garbage_time("NBA", 4, 400, 20)
    sig = score_play(_play(home_score=38, away_score=14, clock_seconds=600), 31, 14, 0.98, 0.99)
    assert sig["garbage"] and sig["total_score"] < 2 and not sig["should_tweet"]


def test_finals_and_quiet_plays():
    final = score_play(_play(event_type="game_end", clock_seconds=0), 24, 23, 0.97, 1.0)
    assert final["final"] and final["style"] == "final"
    quiet = score_play(
        _play(event_type="play", home_score=7, away_score=3, period=2, clock_seconds=500), 7, 3, 0.6, 0.61
    )
    assert quiet["style"] == "update" and not quiet["should_tweet"]


def test_holding_for_good_is_likelier_late_and_with_a_safer_lead():
    assert holds_for_good(0.9, 0.02, False) > holds_for_good(0.9, 0.6, False)
    assert holds_for_good(0.9, 0.1, False) > holds_for_good(0.6, 0.1, False)


def test_decisive_probability_only_for_late_go_ahead_scores_and_equalizers():
    late = score_play(_play(), 17, 23, 0.30, 0.80)
    assert 0.3 < late["decisive"] < 1 and late["decisive_raw"] > 0
    early = score_play(_play(period=1, clock_seconds=600, home_score=7, away_score=0), 0, 0, 0.57, 0.68)
    swing = score_play(_play(home_score=24, away_score=23), 24, 23, 0.3, 0.8)
    final = score_play(_play(event_type="game_end", clock_seconds=0), 24, 23, 0.97, 1.0)
    assert early["decisive"] == swing["decisive"] == final["decisive"] == 0.0
    garbage = score_play(_play(home_score=38, away_score=14, clock_seconds=600), 31, 14, 0.98, 0.99)
    assert garbage["decisive"] == 0.0  # not a go-ahead score


def test_the_shipped_decisive_model_recalibrates_the_rule():
    """Fitted on 2009-2017: equalizers force overtime more often than the rule says; order is kept."""
    assert decisive_weights("NFL") is not None and len(decisive_weights("NFL")) == 3
    assert decisive_probability("NFL", 0.0, False) == 0.0
    assert decisive_probability("NBA", 0.4, True, 0.2) != 0.4  # NBA has its own model (learned on simulations)
    assert decisive_probability("NFL", 0.4, True) > decisive_probability("NFL", 0.4, False)
    probs = [decisive_probability("NFL", raw, False) for raw in (0.1, 0.3, 0.5, 0.7, 0.9, 0.99)]
    assert probs == sorted(probs) and all(0 < p < 1 for p in probs)
