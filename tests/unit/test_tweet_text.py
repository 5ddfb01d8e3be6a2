"""Tweet text reads like a person wrote it: teams, score, time and what happened."""

from __future__ import annotations

from streams.tweet_text import render, time_phrase, what_happened


def _play(**kw) -> dict:
    base = {
        "league": "NFL", "game_id": "2018090912", "play_id": "3584", "period": 4, "clock_seconds": 133,
        "home_team": "GB", "away_team": "CHI", "home_score": 24, "away_score": 23, "event_type": "score",
        "description": "(2:13) (Shotgun) A.Rodgers pass short middle to R.Cobb for 75 yards, TOUCHDOWN.",
    }  # fmt: skip
    return {**base, **kw}


def test_lead_change_text():
    text = render(_play(), "lead_change", 0.8)
    assert "Packers" in text and "24" in text and "23" in text
    assert "2:13 left in the 4th" in text and "A.Rodgers pass short middle to R.Cobb for 75 yards, touchdown" in text
    assert "(Shotgun)" not in text and "(2:13)" not in text and len(text) <= 280


def test_final_and_tie_texts():
    assert render(_play(event_type="game_end", clock_seconds=0), "final", 1.0) in (
        "Final: Packers 24, Bears 23.",
        "That's it: the Packers beat the Bears 24-23.",
    )
    tie = render(_play(period=5, clock_seconds=0, home_score=21, away_score=21, event_type="game_end"), "final", 0.5)
    assert "tie after overtime" in tie
    eq = render(_play(home_score=23, away_score=23), "equalizer", 0.5)
    assert "23" in eq and ("Tied" in eq or "All square" in eq)


def test_time_phrases_and_cleanup():
    assert time_phrase("NFL", 2, 0) == "at the end of the 2nd"
    assert time_phrase("NFL", 5, 65) == "with 1:05 left in overtime"
    assert time_phrase("NBA", 4, 9) == "with 0:09 left in the 4th"
    desc = "(:25) C.Sturgis 39 yard field goal is GOOD, Center-M.Windt, Holder-D.Kaser."
    assert what_happened(desc) == "C.Sturgis 39 yard field goal is good"
    kick_return = "R.Succop kicks 67 yards from TEN 35 to MIA -2. J.Grant for 102 yards, TOUCHDOWN."
    assert what_happened(kick_return).endswith("J.Grant for 102 yards, touchdown")


def test_variants_are_deterministic():
    assert render(_play(), "go_ahead", 0.8) == render(_play(), "go_ahead", 0.8)
