"""The season report leaves out the plays their game refuses (as the worker dead-letters them) and says why."""

from __future__ import annotations

from connectors.cli.report_plays import summary_markdown, without_refused
from streams.games import backtest as plays_backtest
from tests.unit.streams.games.test_game_consistency import play


def test_a_play_after_the_final_is_left_out_with_its_reason_and_the_rest_is_kept():
    plays = [play(1), play(2, 7, 0), play(3, 7, 0, event_type="game_end"), play(4, 7, 0), play(5, 14, 0)]
    kept, refused = without_refused(plays, [], plays_backtest)
    assert [p["play_id"] for p in kept] == ["p1", "p2", "p3"]
    assert len(refused) == 2
    assert refused[0].startswith("game g1 play p4: after final")


def test_the_summary_names_the_refused_plays():
    report = {"season": 2013, "plays": 3, "decisive_moments": 0, "decisive_moment_kinds": {}, "brier": 0.15}
    report |= {"budgets": {}, "calibration": [], "refused": [f"game g play p{i}: after final" for i in range(7)]}
    text = summary_markdown(report)
    assert "7 plays refused by their game" in text and "and 2 more" in text
