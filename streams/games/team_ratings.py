"""Team strength as Elo ratings, updated from final scores (pure; JSON-able state).

The NFL win-probability model uses the pre-game rating difference (home minus away, in 100s of Elo points):
it is what a live system knows before kick-off about who is better. K = 20, a margin-of-victory multiplier
and a regression of one third towards the mean between seasons (the FiveThirtyEight NFL Elo recipe).
The ratings at the end of the training seasons ship in ``streams/games/models/nfl_team_ratings.json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TypedDict

MODELS = Path(__file__).resolve().parent / "models"
MEAN = 1500.0
K = 20.0
HOME_EDGE = 55.0
CARRY_OVER = 2.0 / 3.0
SEASON_START_MONTH = {"NFL": 3, "NBA": 8, "WNBA": 1}  # a date before this month belongs to last year's season


class TeamRatings(TypedDict):
    """Elo ratings of a league's teams, as of a season (part of an account's budget state)."""

    season: int | None  # None: no ratings shipped for the league yet
    ratings: dict[str, float]  # team -> Elo rating


def season_of(league: str, iso_day: str) -> int:
    year, month = int(iso_day[:4]), int(iso_day[5:7])
    return year if month >= SEASON_START_MONTH[league] else year - 1


@cache
def shipped(league: str) -> TeamRatings:
    """The shipped ratings of a league (empty when there are none)."""
    path = MODELS / f"{league.lower()}_team_ratings.json"
    if not path.exists():
        return {"season": None, "ratings": {}}
    return json.loads(path.read_text())


def initial(league: str) -> TeamRatings:
    data = shipped(league)
    return {"season": data["season"], "ratings": dict(data["ratings"])}


def for_season(state: TeamRatings, season: int) -> TeamRatings:
    """The state at ``season``: ratings regress towards the mean once per new season."""
    if state["season"] is None or season <= state["season"]:
        return state if state["season"] is not None else {**state, "season": season}
    ratings = {team: MEAN + (r - MEAN) * CARRY_OVER for team, r in state["ratings"].items()}
    return {"season": season, "ratings": ratings}


def difference(state: TeamRatings, home: str, away: str) -> float:
    """Home minus away rating, in hundreds of Elo points (0 for unknown teams)."""
    ratings = state["ratings"]
    return (ratings.get(home, MEAN) - ratings.get(away, MEAN)) / 100.0


def update(state: TeamRatings, home: str, away: str, home_score: int, away_score: int) -> TeamRatings:
    """The state after a final score."""
    ratings = state["ratings"]
    rh, ra = ratings.get(home, MEAN), ratings.get(away, MEAN)
    expected = 1.0 / (1.0 + 10 ** (-(rh - ra + HOME_EDGE) / 400.0))
    margin = home_score - away_score
    result = 1.0 if margin > 0 else 0.0 if margin < 0 else 0.5
    multiplier = math.log(abs(margin) + 1) * 2.2 / (abs(rh - ra) * 0.001 + 2.2)
    shift = K * multiplier * (result - expected)
    return {**state, "ratings": {**ratings, home: rh + shift, away: ra - shift}}


def replay(
    games: Iterable[tuple[str, str, str, str, int, int]], league: str, state: TeamRatings | None = None
) -> tuple[dict[str, float], TeamRatings]:
    """Pre-game differences of ``(game_id, iso_day, home, away, home_final, away_final)`` in time order."""
    state = state or {"season": None, "ratings": {}}
    diffs = {}
    for game_id, day, home, away, hs, as_ in games:
        state = for_season(state, season_of(league, day))
        diffs[game_id] = difference(state, home, away)
        state = update(state, home, away, hs, as_)
    return diffs, state
