"""NBA/WNBA win probability: the Brownian-motion model of Stern (1994), with overtime.

The home margin at the end is modelled as the current margin plus a drift (home edge, per minute) and a
Brownian noise of ``sigma_per_minute * sqrt(minutes left)``; P(home wins) = Phi(mean / sd). When regulation
(or an overtime) ends tied, the next 5-minute overtime is what is left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LeagueParameters:
    periods: int  # regulation periods
    period_minutes: float
    overtime_minutes: float
    sigma_per_minute: float  # sd of the final margin over a full game / sqrt(game minutes)
    home_edge_points: float  # expected home margin over a full game

    @property
    def game_minutes(self) -> float:
        return self.periods * self.period_minutes


# Stern (1994) measured sd 11.6 points per NBA game; the home edge has shrunk to about 2.5 points since.
LEAGUES = {
    "NBA": LeagueParameters(4, 12.0, 5.0, 11.6 / math.sqrt(48.0), 2.5),
    "WNBA": LeagueParameters(4, 10.0, 5.0, 10.5 / math.sqrt(40.0), 2.0),
}


def minutes_left(params: LeagueParameters, period: int, clock_seconds: int) -> float:
    """Minutes left in regulation, or in the current overtime."""
    clock = max(clock_seconds, 0) / 60.0
    if period <= params.periods:
        return (params.periods - period) * params.period_minutes + clock
    return clock


def win_prob(params: LeagueParameters, margin: float, minutes: float, final: bool = False) -> float:
    """P(home wins) with ``margin`` (home - away) and ``minutes`` left."""
    if minutes <= 0:
        if margin != 0 or final:
            return 1.0 if margin > 0 else 0.0 if margin < 0 else 0.5
        minutes = params.overtime_minutes  # tied at the buzzer: an overtime follows
    mean = margin + params.home_edge_points * minutes / params.game_minutes
    sd = params.sigma_per_minute * math.sqrt(minutes)
    return 0.5 * (1.0 + math.erf(mean / (sd * math.sqrt(2.0))))


def win_prob_home(play: dict[str, Any]) -> float:
    params = LEAGUES[play["league"]]
    minutes = minutes_left(params, play["period"], play["clock_seconds"])
    return win_prob(params, play["home_score"] - play["away_score"], minutes, play.get("event_type") == "game_end")
