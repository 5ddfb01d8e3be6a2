"""The basketball moment model on hand-made endings of one-game NBA nights (budget 17)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.games import backtest
from streams.games.significance import basketball_forces_overtime, basketball_holds, score_play

TIP = datetime(2024, 1, 10, 0, 30, tzinfo=UTC)  # 7:30 pm ET


def game(scores: list[tuple[int, int, int, int]], game_id: str = "g1") -> tuple[list[dict], list[dict]]:
    """Play records of an NBA game from its scores (period, clock seconds, home, away), each followed by a
    non-scoring play, ending with a ``game_end`` record; and its schedule."""
    records: list[dict] = []

    def add(period: int, clock: int, home: int, away: int, event_type: str) -> None:
        elapsed = (min(period, 4) - 1) * 720 + max(period - 4, 0) * 300 + (720 if period <= 4 else 300) - clock
        records.append(
            {
                "league": "NBA", "game_id": game_id, "play_id": str(len(records)), "sequence": len(records) + 1,
                "occurred_at": (TIP + timedelta(seconds=2 * elapsed + len(records))).isoformat().replace("+00:00", "Z"),
                "period": period, "clock_seconds": clock, "home_team": "DET", "away_team": "CHI",
                "home_score": home, "away_score": away, "description": event_type, "event_type": event_type,
                "possession": None, "down": None, "yards_to_go": None, "yardline_100": None,
            }
        )  # fmt: skip

    add(1, 720, 0, 0, "period_start")
    for period, clock, home, away in scores:
        add(period, clock, home, away, "score")
        add(period, max(clock - 5, 0), home, away, "play")
    last = records[-1]
    add(last["period"], 0, last["home_score"], last["away_score"], "game_end")
    schedule = [{"league": "NBA", "game_id": game_id, "home_team": "DET", "away_team": "CHI",
                 "scheduled_start": TIP.isoformat().replace("+00:00", "Z")}]  # fmt: skip
    return records, schedule


def tweeted(scores: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """The scores (period, clock, home, away) that were tweeted about (a late basket is told a few plays later:
    the tweet is about the play its command names)."""
    plays, schedule = game(scores)
    by_id = {p["play_id"]: p for p in plays}
    told = [by_id[d["command"]["play_id"]] for d in backtest.run(plays, schedule, 17) if d["tweet"]]
    return [(p["period"], p["clock_seconds"], p["home_score"], p["away_score"]) for p in told]


def see_saw(period: int, start: int, step: int, n: int, home: int, away: int) -> list[tuple[int, int, int, int]]:
    """``n`` baskets trading the lead from ``start`` seconds left, one every ``step`` seconds."""
    out = []
    for k in range(n):
        if k % 2 == 0:
            home = max(home, away) + 2
        else:
            away = max(home, away) + 2
        out.append((period, start - k * step, home, away))
    return out


def test_early_lead_changes_are_not_tweeted_on_a_one_game_night():
    """'Pistons go ahead 2-0 with 10:57 left in the 1st' and five 1st-quarter lead changes: no tweet."""
    early = see_saw(1, 657, 60, 6, 0, 0)
    ending = [(2, 300, 50, 40), (3, 300, 80, 66), (4, 300, 100, 90), (4, 120, 104, 92)]  # a comfortable win
    assert [s for s in tweeted(early + ending) if s[0] < 4] == []


def test_a_go_ahead_with_20_seconds_left_is_tweeted():
    scores = [(3, 100, 70, 72), (4, 300, 90, 93), (4, 20, 95, 94)]
    assert (4, 20, 95, 94) in tweeted(scores)


def test_an_equalizer_forcing_overtime_is_tweeted():
    scores = [(4, 300, 90, 93), (4, 30, 92, 95), (4, 2, 95, 95), (5, 200, 99, 95)]
    assert (4, 2, 95, 95) in tweeted(scores)


def test_overtime_keeps_budget_after_a_see_saw_4th_quarter():
    """Twelve 4th-quarter lead changes before the last five minutes and more after: the tweets of the
    equalizer forcing overtime and of the overtime's go-ahead for good are still there."""
    q4 = see_saw(4, 700, 30, 12, 80, 80)
    home, away = q4[-1][2], q4[-1][3]
    late = see_saw(4, 280, 25, 8, home, away)
    home, away = late[-1][2], late[-1][3]
    leader_home = home > away
    tie = (4, 1, max(home, away), max(home, away))
    tie_score = tie[2]
    overtime = [(5, 250, tie_score + 2, tie_score), (5, 200, tie_score + 2, tie_score + 3),
                (5, 15, tie_score + 5, tie_score + 3)]  # fmt: skip
    sent = tweeted(q4 + late + [tie] + overtime)
    assert leader_home is not None
    assert tie in sent
    assert (5, 15, tie_score + 5, tie_score + 3) in sent
    assert len(sent) <= 17
    assert sum(1 for s in sent if s[0] == 4 and s[1] > 300) <= 17 - 7  # 7 held for the last five minutes and overtime


def test_a_late_lead_holds_more_often_with_less_time_and_a_bigger_lead():
    assert basketball_holds("NBA", 3, 0.3) > basketball_holds("NBA", 1, 0.3) > basketball_holds("NBA", 1, 6.0)
    assert basketball_holds("NBA", 2, 0.0) == 1.0
    assert basketball_forces_overtime("NBA", 0.05) > basketball_forces_overtime("NBA", 3.0) > 0
    assert basketball_forces_overtime("WNBA", 0.0) == 0.9


def test_early_basketball_scores_are_worth_little_and_never_decisive():
    play = {"league": "NBA", "period": 1, "clock_seconds": 657, "home_score": 2, "away_score": 0,
            "event_type": "score"}  # fmt: skip
    sig = score_play(play, 0, 0, 0.58, 0.62)
    assert sig["style"] == "go_ahead" and sig["decisive"] == 0.0 and sig["value"] <= 0.09
    late = {**play, "period": 4, "clock_seconds": 20, "home_score": 95, "away_score": 94}
    late_sig = score_play(late, 93, 94, 0.35, 0.7)
    earlier_sig = score_play({**late, "clock_seconds": 360}, 93, 94, 0.45, 0.55)
    assert late_sig["style"] == "walk_off" and late_sig["decisive"] > 0.3
    assert earlier_sig["style"] == "lead_change" and 0 < earlier_sig["decisive"] < late_sig["decisive"]
