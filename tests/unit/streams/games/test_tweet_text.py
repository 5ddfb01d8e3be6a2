"""Tweet text reads like a person wrote it: teams, score, time and what happened."""

from __future__ import annotations

from streams.games.tweet_text import headline, render, time_phrase, what_happened


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
    assert "2:13 left in the 4th" in text and "A.Rodgers finds R.Cobb for a 75-yard touchdown" in text
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


def test_headlines_lead_with_the_outcome():
    kick_return = "R.Succop kicks 67 yards from TEN 35 to MIA -2. J.Grant for 102 yards, TOUCHDOWN."
    assert headline(kick_return) == "J.Grant takes the kickoff 102 yards for a touchdown"
    punt = "J.Hekker punts 40 yards to KC 35, Center-J.McQuaide. T.Hill for 65 yards, TOUCHDOWN."
    assert headline(punt) == "T.Hill takes the punt back 65 yards for a touchdown"
    assert headline("(2:25) J.Ajayi left end for 11 yards, TOUCHDOWN.") == "J.Ajayi runs 11 yards for a touchdown"
    pick_six = "(1:28) P.Mahomes pass deep right intended for C.Conley INTERCEPTED by M.Peters at LA 40. M.Peters for 60 yards, TOUCHDOWN."
    assert headline(pick_six) == "M.Peters picks it off and takes it 60 yards for a touchdown"
    fg = "(:25) C.Sturgis 39 yard field goal is GOOD, Center-M.Windt, Holder-D.Kaser."
    assert headline(fg) == "C.Sturgis hits a 39-yard field goal"
    assert headline("M.Mariota pass short left to T.Sharpe for 11 yards, TOUCHDOWN.") == (
        "M.Mariota finds T.Sharpe for an 11-yard touchdown"
    )
    assert headline("(10:06) J.White up the middle for 1 yard, TOUCHDOWN.") == "J.White runs it in from a yard out"
    eligible = "(11:07) J.Fisher and S.Hubbard reported in as eligible. J.Mixon up the middle for 1 yard, TOUCHDOWN."
    assert headline(eligible) == "J.Mixon runs it in from a yard out"
    missed = "(1:44) C.Boswell 42 yard field goal is No Good, Wide Left, Center-K.Canaday, Holder-J.Berry."
    assert headline(missed) == "C.Boswell misses a 42-yard field goal (wide left)"
    blocked = "(:09) Z.Gonzalez 43 yard field goal is BLOCKED (T.Watt), Center-C.Hughlett, Holder-B.Colquitt."
    assert headline(blocked) == "T.Watt blocks Z.Gonzalez's 43-yard field goal"
    two = "TWO-POINT CONVERSION ATTEMPT. J.Ajayi rushes right end. ATTEMPT SUCCEEDS."
    assert headline(two) == "J.Ajayi runs in the two-point conversion"
    plain = "(3:05) (Shotgun) P.Mahomes pass short right to D.Harris to LA 20 for 3 yards (C.Ryan)."
    assert headline(plain) == what_happened(plain)
    play = _play(
        home_team="MIA", away_team="TEN", home_score=16, away_score=10, clock_seconds=844, description=kick_return
    )
    texts = {render({**play, "play_id": str(k)}, "go_ahead", 0.8) for k in range(8)}
    assert (
        "J.Grant takes the kickoff 102 yards for a touchdown: Dolphins lead 16-10 with 14:04 left in the 4th." in texts
    )


def test_variants_are_deterministic():
    assert render(_play(), "go_ahead", 0.8) == render(_play(), "go_ahead", 0.8)
