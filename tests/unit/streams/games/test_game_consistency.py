"""What a game refuses or corrects: plays out of order, after its final, scores going down, corrections."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from connectors.testing import Harness, message
from streams.exceptions import InvalidRecord
from streams.games.game_state import validate_play
from streams.games.play_decisions import decide
from streams.games.steps import GamesStep

TZ = "America/New_York"


def play(seq: int, home: int = 0, away: int = 0, event_type: str = "play", **kw) -> dict:
    return {
        "league": "NFL",
        "game_id": "g1",
        "play_id": f"p{seq}",
        "sequence": seq,
        "occurred_at": datetime(2018, 9, 9, 17, seq, tzinfo=UTC),
        "period": 1,
        "clock_seconds": 900 - 10 * seq,
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
        **kw,
    }


def run(plays: list[dict]) -> tuple[list, dict]:
    """Decide ``plays`` in order; returns (decisions, the game's last state)."""
    game = budget = None
    decisions = []
    for p in plays:
        decision, game, budget = decide(p, game, budget, limit=17, tz=TZ)
        decisions.append(decision)
    return decisions, game


def test_a_new_play_with_a_lower_score_is_refused():
    _, game = run([play(1), play(2, 7, 0)])
    with pytest.raises(InvalidRecord, match="score went down: play p3 of game g1 has 0-0 after 7-0"):
        decide(play(3, 0, 0), game, None, limit=17, tz=TZ)


def test_a_play_after_the_feeds_game_end_is_refused():
    _, game = run([play(1), play(2, 7, 0, event_type="game_end")])
    with pytest.raises(InvalidRecord, match="after final: play p3 of game g1 comes after"):
        decide(play(3, 7, 0), game, None, limit=17, tz=TZ)


def test_a_new_play_out_of_order_is_refused_with_the_sequences():
    _, game = run([play(1), play(5, 7, 0)])
    with pytest.raises(
        InvalidRecord, match="out of order: play p3 of game g1 has sequence 3, not after the game's last 5"
    ):
        decide(play(3, 7, 0), game, None, limit=17, tz=TZ)


def test_a_redelivery_changes_nothing():
    _, game = run([play(1), play(2, 7, 0)])
    decision, again, _ = decide(play(1), game, None, limit=17, tz=TZ)
    assert again is game and decision["tweet"] is False and "correction" not in decision


def test_a_correction_takes_the_corrected_score_and_is_never_tweeted_again():
    touchdown = play(2, 7, 0, event_type="score", description="TOUCHDOWN")
    _, game = run([play(1), touchdown])
    assert (game["home_score"], game["away_score"]) == (7, 0)
    overturned = {**touchdown, "home_score": 0, "description": "TOUCHDOWN overturned on review"}
    decision, corrected, _ = decide(overturned, game, None, limit=17, tz=TZ)
    assert decision["correction"] is True and decision["tweet"] is False and decision["command"] is None
    assert (corrected["home_score"], corrected["away_score"], corrected["last_sequence"]) == (0, 0, 2)
    decision, after, _ = decide(play(3, 0, 0), corrected, None, limit=17, tz=TZ)  # the lower score is the game's now
    assert after["last_sequence"] == 3 and decision.get("correction") is None


def test_a_correction_of_an_earlier_play_is_applied_out_of_order():
    _, game = run([play(1), play(2, 7, 0), play(3, 7, 0)])
    decision, corrected, _ = decide(play(2, 0, 0, description="no score"), game, None, limit=17, tz=TZ)
    assert decision["correction"] is True
    assert (corrected["home_score"], corrected["last_sequence"]) == (0, 3)


def test_a_state_written_before_play_ids_were_kept_still_recognises_redeliveries():
    _, game = run([play(1), play(2, 7, 0)])
    old = {k: v for k, v in game.items() if k not in ("seen", "closed")}
    decision, again, _ = decide(play(1, 3, 3), old, None, limit=17, tz=TZ)
    assert again is old and decision["tweet"] is False


def test_the_step_dead_letters_what_the_game_refuses_and_logs_one_line_each(caplog):
    game_end = play(4, 14, 7, event_type="game_end", clock_seconds=0, period=4)
    plays = [
        play(1),
        play(2, 7, 0),
        play(3, 14, 0),
        play(2, 7, 0, play_id="p2-again"),  # out of order
        play(3, 0, 0, play_id="p3-down", sequence=5),  # a score going down
        play(3, 7, 0, description="corrected: the extra point missed"),  # a correction of p3 (scores go down)
        game_end,
        play(6, 14, 7),  # after the final
    ]
    h = Harness(lambda: GamesStep(limit=17, tz=TZ), {"plays": validate_play})
    with caplog.at_level(logging.INFO, logger="streams.games.steps"):
        h.run([message("plays", p) for p in plays])
    reasons = {letter["offset"]: letter["reason"] for letter in h.dead_letters}
    assert sorted(reasons) == [3, 4, 7]
    assert reasons[3].startswith("out of order: play p2-again")
    assert reasons[4].startswith("score went down: play p3-down of game g1 has 0-0 after 14-0")
    assert reasons[7].startswith("after final: play p6")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        f"games: {reasons[3]}",
        f"games: {reasons[4]}",
        "games: play p3 of game g1 corrected",
        f"games: {reasons[7]}",
    ]
    final = [s for s in h.outputs_of("game-state") if s["game_id"] == "g1"][-1]
    assert (final["home_score"], final["away_score"], final["status"]) == (14, 7, "final")
    assert h.tables["games"]["g1"]["last_play_id"] == "p4"


def test_a_play_s_fingerprint_is_the_same_for_its_record_and_its_json_form_and_across_versions():
    # game states keep these fingerprints: a changed value would turn every redelivery after an upgrade into a
    # correction
    from streams.games.play_decisions import play_digest

    record = play(3, home=7, description="T.Brady pass to R.Gronkowski for 12 yards, TOUCHDOWN", possession="NE")
    as_json = {**record, "occurred_at": "2018-09-09T17:03:00Z"}
    assert play_digest(record) == play_digest(as_json) == 119_212_737
    with_micros = {**record, "occurred_at": datetime(2018, 9, 9, 17, 3, 0, 250_000, tzinfo=UTC)}
    assert play_digest(with_micros) == play_digest({**record, "occurred_at": "2018-09-09T17:03:00.250000Z"})
