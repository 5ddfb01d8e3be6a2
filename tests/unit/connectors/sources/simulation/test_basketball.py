"""The basketball simulator: the invariants of every simulated game, determinism, the calibration against the
league table, and the real contract (every record encodes with the topic's Avro schema)."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from connectors.sources.simulation.basketball import simulate_nights, simulate_slate
from connectors.sources.simulation.basketball_check import calibration, game_statistics, simulated_games
from connectors.sources.simulation.basketball_game import BasketballGame
from connectors.sources.simulation.basketball_leagues import NBA, WNBA, possession_model
from schemas.codec import get_codec
from schemas.json_form import from_json
from streams.games.game_state import validate_play

DAY = date(2023, 1, 10)
EASTERN = ZoneInfo("America/New_York")


def _by_game(plays):
    games = defaultdict(list)
    for play in plays:
        games[play["game_id"]].append(play)
    return {gid: sorted(records, key=lambda p: p["sequence"]) for gid, records in games.items()}


@pytest.fixture(scope="module")
def nights():
    """A full NBA night, an overtime-heavy WNBA night and a spread NBA night: (league, schedule, plays)."""
    return [
        ("NBA", *simulate_slate("NBA", 12, DAY, seed=3, kind="full")),
        ("WNBA", *simulate_slate("WNBA", 6, date(2023, 7, 11), seed=3, kind="overtime-heavy")),
        ("NBA", *simulate_slate("NBA", 8, DAY, seed=4, kind="spread")),
    ]


def _all_games(nights):
    for league, _schedule, plays in nights:
        for records in _by_game(plays).values():
            yield (NBA if league == "NBA" else WNBA), records


def test_scores_never_decrease_and_move_by_at_most_four_a_play(nights):
    for _params, records in _all_games(nights):
        assert (records[0]["home_score"], records[0]["away_score"]) == (0, 0)
        for before, after in itertools.pairwise(records):
            home, away = after["home_score"] - before["home_score"], after["away_score"] - before["away_score"]
            assert home >= 0 and away >= 0
            assert home + away <= 4
            assert (after["event_type"] == "score") == (home + away > 0)


def test_the_clock_runs_down_in_a_period_and_resets_each_period(nights):
    for params, records in _all_games(nights):
        for period, plays in itertools.groupby(records, key=lambda p: p["period"]):
            plays = list(plays)
            length = params.period_seconds if period <= 4 else 300
            assert plays[0]["event_type"] == "period_start" and plays[0]["clock_seconds"] == length
            assert plays[-1]["event_type"] in ("period_end", "game_end") and plays[-1]["clock_seconds"] == 0
            clocks = [p["clock_seconds"] for p in plays]
            assert clocks == sorted(clocks, reverse=True)
        assert [p["period"] for p in records] == sorted(p["period"] for p in records)


def test_overtime_only_on_a_tie_and_the_game_ends_untied(nights):
    overtimes = 0
    for _params, records in _all_games(nights):
        ends = [p for p in records if p["event_type"] in ("period_end", "game_end")]
        assert [p["event_type"] for p in ends] == ["period_end"] * (len(ends) - 1) + ["game_end"]
        final = ends[-1]
        assert final["home_score"] != final["away_score"]
        assert final["period"] >= 4
        for end in ends[3:-1]:  # the end of the 4th quarter and of each overtime but the last
            assert end["home_score"] == end["away_score"]
        overtimes += final["period"] > 4
    assert overtimes >= 6  # the overtime-heavy night's six games at least


def test_sequences_increase_times_advance_and_play_ids_are_unique(nights):
    for _params, records in _all_games(nights):
        assert [p["sequence"] for p in records] == list(range(1, len(records) + 1))
        times = [p["occurred_at"] for p in records]
        assert all(a < b for a, b in itertools.pairwise(times))
        assert len({p["play_id"] for p in records}) == len(records)
        assert all(p["possession"] is None and p["down"] is None and p["yardline_100"] is None for p in records)


def test_a_game_lasts_like_a_real_one(nights):
    for _params, records in _all_games(nights):
        first = datetime.fromisoformat(records[0]["occurred_at"].replace("Z", "+00:00"))
        last = datetime.fromisoformat(records[-1]["occurred_at"].replace("Z", "+00:00"))
        overtimes = records[-1]["period"] - 4
        minutes = (last - first).total_seconds() / 60
        assert 95 + 8 * overtimes <= minutes <= 170 + 15 * overtimes


def test_every_record_encodes_with_the_topic_schemas(nights):
    codec = get_codec()
    for _league, schedule, plays in nights:
        for play in plays:
            record = from_json("Play", play)
            codec.encode("Play", record, validate_first=True)
            validate_play(record)
        for game in schedule:
            codec.encode("ScheduledGame", from_json("ScheduledGame", game), validate_first=True)


def test_the_same_seed_gives_the_same_night_and_another_seed_another():
    assert simulate_slate("NBA", 2, DAY, seed=7) == simulate_slate("NBA", 2, DAY, seed=7)
    assert simulate_slate("NBA", 2, DAY, seed=7)[1] != simulate_slate("NBA", 2, DAY, seed=8)[1]


def test_kinds_of_night(nights):
    schedule, plays = simulate_slate("NBA", None, DAY, seed=1, kind="one-game")
    assert len(schedule) == 1 and len(_by_game(plays)) == 1
    assert datetime.fromisoformat(schedule[0]["scheduled_start"]).astimezone(EASTERN).hour == 19
    assert len(nights[0][1]) == 12
    assert all(records[-1]["period"] >= 5 for records in _by_game(nights[1][2]).values())
    spread = [datetime.fromisoformat(g["scheduled_start"]).astimezone(EASTERN) for g in nights[2][1]]
    assert (spread[0].hour, spread[0].minute, spread[-1].hour, spread[-1].minute) == (19, 0, 22, 30)
    last_play = datetime.fromisoformat(nights[2][2][-1]["occurred_at"]).astimezone(EASTERN)
    assert last_play.date() > DAY  # the late games run past midnight ET
    times = [p["occurred_at"] for p in nights[0][2]]
    assert times == sorted(times)  # merged as a live night delivers them


def test_several_nights_have_distinct_games():
    schedule, plays = simulate_nights("WNBA", 2, date(2023, 7, 11), 3, seed=1)
    assert len(schedule) == 6 and len({g["game_id"] for g in schedule}) == 6
    assert {p["game_id"] for p in plays} == {g["game_id"] for g in schedule}


@pytest.mark.parametrize(
    ("league", "games", "kind"), [("WNBA", 7, "full"), ("NBA", 0, "full"), ("NBA", 2, "one-game"), ("NBA", 1, "x")]
)
def test_impossible_nights_are_refused(league, games, kind):
    with pytest.raises(ValueError):
        simulate_slate(league, games, DAY, seed=1, kind=kind)


def test_the_possession_model_reproduces_the_table():
    model = possession_model(NBA)
    assert model.three_share == pytest.approx(34.2 / 88.3)
    assert model.turnover + model.foul_trip < 0.25
    assert 0.53 < model.two_pct < 0.57
    assert 13 < model.first_chance_seconds < 15


@pytest.mark.parametrize("params", [NBA, WNBA], ids=["NBA", "WNBA"])
def test_simulated_averages_match_the_league_table(params):
    games = list(simulated_games(params.league, 200, seed=11))
    fga = sum(g.field_goal_attempts for g in games)
    points = sum(g.points_per_team for g in games) / len(games)
    assert points == pytest.approx(params.points, rel=0.04)
    assert sum(g.three_point_attempts for g in games) / fga == pytest.approx(params.fg3a / params.fga, abs=0.02)
    assert sum(g.free_throw_attempts for g in games) / fga == pytest.approx(params.fta / params.fga, abs=0.03)
    assert sum(g.turnovers for g in games) / 2 / len(games) == pytest.approx(params.tov, rel=0.08)
    assert sum(g.offensive_rebounds for g in games) / 2 / len(games) == pytest.approx(params.orb, rel=0.08)
    possessions = sum(g.possessions_per_team for g in games) / len(games)
    assert possessions == pytest.approx(possession_model(params).possessions_per_game, rel=0.04)


def test_home_court_and_ratings_shift_the_expected_margin():
    start = datetime(2023, 1, 10, 19, tzinfo=EASTERN)
    even = BasketballGame(NBA, "g", "BOS", "LAL", start, random.Random(1))
    assert even.expected_home_margin == pytest.approx(2.5)
    assert even.make_shift["BOS"] > 0 > even.make_shift["LAL"]
    stronger_away = BasketballGame(NBA, "g", "BOS", "LAL", start, random.Random(1), home_rating=-3, away_rating=5)
    assert stronger_away.expected_home_margin == pytest.approx(
        2.5 - 8 * possession_model(NBA).possessions_per_game / 100
    )


def _play(sequence, home, away, description="", period=4):
    return {"sequence": sequence, "home_score": home, "away_score": away, "description": description, "period": period}


def test_game_statistics_count_lead_changes_runs_and_attempts():
    plays = [
        _play(1, 0, 0),
        _play(2, 2, 0, "A.Lee Layup Shot (2 PTS)"),
        _play(3, 2, 0, "MISS B.Kim 25' 3PT Jump Shot"),
        _play(4, 2, 0, "B.Kim REBOUND (Off:1 Def:0)"),
        _play(5, 2, 3, "B.Kim 24' 3PT Jump Shot (3 PTS)"),  # lead change 1
        _play(6, 3, 3, "A.Lee Free Throw 1 of 2 (3 PTS)"),
        _play(7, 4, 3, "A.Lee Free Throw 2 of 2 (4 PTS)"),  # lead change 2 (through a tie)
        _play(8, 4, 3, "B.Kim Bad Pass Turnover (P1.T1)"),
        _play(9, 4, 3, "A.Lee REBOUND (Off:0 Def:1)"),
    ]
    stats = game_statistics(plays)
    assert (stats.lead_changes, stats.longest_run, stats.margin) == (2, 3, 1)
    assert (stats.field_goal_attempts, stats.three_point_attempts, stats.free_throw_attempts) == (3, 2, 2)
    assert (stats.offensive_rebounds, stats.turnovers, stats.overtime) == (1, 1, False)


def test_the_real_game_sits_in_the_simulated_distribution():
    from connectors.jsonl import read_jsonl
    from connectors.testing import SAMPLE_DATA

    real = [obj for _n, obj in read_jsonl(SAMPLE_DATA / "nba_0020901030.jsonl")]
    rows = {row.statistic: row for row in calibration("NBA", 60, seed=2, real_game=real)}
    assert rows["points per team-game"].real_game == 74.0
    assert rows["points per team-game"].real_percentile < 10  # a 77-71 night is a low-scoring game today
    assert rows["final margin (points)"].real_game == 6.0
    assert 0 <= rows["lead changes per game"].real_percentile <= 100
