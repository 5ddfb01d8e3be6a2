"""The NFL importer on real games: final scores, ordering, the Play contract, the bundled sample."""

from __future__ import annotations

import gzip
import itertools
import json
from datetime import date

import pytest

from connectors.sources.importers import nfl
from connectors.testing import SAMPLE_DATA
from schemas.codec import get_codec
from schemas.json_form import from_json

SAMPLE = SAMPLE_DATA

# Known final scores (away @ home) of the Sunday of 2018 week 1, and a 2018 overtime game.
KNOWN_FINALS = {
    "2018090908": ("KC", 38, "LAC", 28),
    "2018090912": ("CHI", 23, "GB", 24),
    "2018090901": ("PIT", 21, "CLE", 21),  # a tie after overtime
    "2018090906": ("TB", 48, "NO", 40),
    "2018090900": ("BUF", 3, "BAL", 47),
}


def _game(eid: str) -> list[dict]:
    info = next(g for g in nfl.load_schedule() if g["eid"] == eid)
    return nfl.game_plays(info, nfl.load_game(eid))


@pytest.mark.parametrize("eid", sorted(KNOWN_FINALS))
def test_final_score_is_rebuilt_from_the_plays(eid):
    away, away_score, home, home_score = KNOWN_FINALS[eid]
    plays = _game(eid)
    last = plays[-1]
    assert (last["away_team"], last["home_team"]) == (away, home)
    assert (last["away_score"], last["home_score"]) == (away_score, home_score)
    assert last["event_type"] == "game_end"


def test_scores_never_decrease_and_sequence_and_time_increase():
    plays = _game("2018090908")
    assert [p["sequence"] for p in plays] == list(range(1, len(plays) + 1))
    assert len({p["play_id"] for p in plays}) == len(plays)
    times = [p["occurred_at"] for p in plays]
    assert times == sorted(times) and len(set(times)) == len(times)
    for before, after in itertools.pairwise(plays):
        assert after["home_score"] >= before["home_score"] and after["away_score"] >= before["away_score"]
        assert after["period"] >= before["period"]


def test_scoring_plays_and_situation_fields():
    plays = _game("2018090908")
    hill = next(p for p in plays if p["play_id"] == "117")  # T.Hill 91 yd punt return TD in Q1
    # the data has no extra-point play after it: the try (good, per the scoring summary) is credited on the TD
    assert hill["event_type"] == "score" and (hill["away_score"], hill["home_score"]) == (7, 0)
    first_snap = next(p for p in plays if p["play_id"] == "51")  # (15:00) Rivers 8 yd pass; next snap 2nd & 2
    assert (first_snap["possession"], first_snap["down"], first_snap["yards_to_go"]) == ("LAC", 2, 2)
    assert first_snap["yardline_100"] == 67  # LAC 33: 67 yards from KC's end zone
    assert first_snap["clock_seconds"] == 14 * 60 + 25
    assert {p["event_type"] for p in plays} >= {"period_start", "play", "score", "period_end", "game_end"}


def test_kickoff_is_converted_from_eastern_time():
    info = next(g for g in nfl.load_schedule() if g["eid"] == "2018090912")  # Sunday night, 8:20 PM EDT
    assert nfl.kickoff_utc(info).isoformat() == "2018-09-10T00:20:00+00:00"


def test_selection_of_a_day():
    games = nfl.select_games(2018, week=1, on_date=date(2018, 9, 9))
    assert len(games) == 13 and all(g["wday"] == "Sun" for g in games)


def test_bundled_sample_matches_the_importer_and_the_contract():
    codec = get_codec()
    with gzip.open(SAMPLE / "nfl_2018_week1_sunday.jsonl.gz", "rt") as fh:
        lines = [json.loads(line) for line in fh]
    schedule = [json.loads(line) for line in (SAMPLE / "nfl_2018_week1_schedule.jsonl").read_text().splitlines()]
    assert len(schedule) == 13
    assert [line["occurred_at"] for line in lines] == sorted(line["occurred_at"] for line in lines)
    for obj in lines[:300]:
        codec.encode("Play", from_json("Play", obj))
    for obj in schedule:
        codec.encode("ScheduledGame", from_json("ScheduledGame", obj))
    finals = {obj["game_id"]: obj for obj in lines if obj["event_type"] == "game_end"}
    assert len(finals) == 13
    assert (finals["2018090908"]["away_score"], finals["2018090908"]["home_score"]) == (38, 28)
    kc_lac = [obj for obj in lines if obj["game_id"] == "2018090908"]
    assert kc_lac == _game("2018090908")


def test_january_games_belong_to_their_season_and_date_from_the_game_id():
    info = next(g for g in nfl.load_schedule() if g["eid"] == "2020010500")  # MIN at NO, wild card, OT
    assert nfl.season_of(info) == 2019 and info["year"] == 2019  # the schedule's year is the season
    assert nfl.kickoff_utc(info).isoformat() == "2020-01-05T18:05:00+00:00"
    plays = _game("2020010500")
    assert (plays[-1]["away_score"], plays[-1]["home_score"]) == (26, 20) and plays[-1]["period"] == 5
