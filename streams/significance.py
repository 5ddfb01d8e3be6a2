"""Significance of a play: how likely it is to be a moment that decides the game (pure).

The heart is ``value`` in 0..1. A late go-ahead score is worth the probability that the new leader now wins
(the lead holding for good is what makes it decisive); a late equalizer is worth the chance that it forces
overtime (the less time left, the more); other plays are worth their swing in win probability, capped below
the late scores. Garbage time (NFL 4th quarter with a lead of 17+, NBA/WNBA last 5 minutes with 15+) is worth
almost nothing. ``total_score`` is ``100 * value``; ``should_tweet`` marks a candidate for the budget, which
makes the final call (``streams/tweet_budget.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

CANDIDATE_VALUE = 0.06  # below this a play is never offered to the budget
SWING_CAP = 0.3  # a mere swing in win probability is never worth as much as a late decisive score
GARBAGE_FACTOR = 0.02
# P(a late go-ahead score holds for good): logistic in logit(leader's WP), share of the 4th quarter left
# (t, sqrt t) and overtime, fitted on the NFL's 4th-quarter go-ahead scores of 2009-2017 (1,838 of them).
GO_AHEAD_WEIGHTS = (1.8272, 0.661, 5.2207, -7.4789, -1.548)
EQUALIZER_MAX = 0.75  # share of NFL equalizers in the last minute that forced overtime, 2009-2017


@dataclass(frozen=True)
class LeagueRules:
    late_period: int  # the period from which scores can be decisive (4th quarter)
    regulation_periods: int
    clutch_seconds: int  # "clutch time": the last seconds of regulation
    garbage_lead: int
    garbage_seconds: int | None  # garbage time applies with this many seconds left or fewer (None: whole period)
    equalizer_time_scale: float  # seconds: P(an equalizer forces overtime) ~ 0.75 exp(-time left / scale)


RULES = {
    "NFL": LeagueRules(4, 4, 300, 17, None, 220.0),
    "NBA": LeagueRules(4, 4, 300, 15, 300, 25.0),
    "WNBA": LeagueRules(4, 4, 300, 15, 300, 25.0),
}


def leader(home_score: int, away_score: int) -> str | None:
    """'home', 'away' or None (tied)."""
    return "home" if home_score > away_score else "away" if away_score > home_score else None


PERIOD_SECONDS = {"NFL": 900, "NBA": 720, "WNBA": 600}


def holds_for_good(leader_wp: float, share_left: float, overtime: bool) -> float:
    """Probability that a late go-ahead score is the one that decides the game."""
    p = min(max(leader_wp, 1e-3), 1 - 1e-3)
    b0, b_logit, b_t, b_sqrt_t, b_ot = GO_AHEAD_WEIGHTS
    z = b0 + b_logit * math.log(p / (1 - p)) + b_t * share_left + b_sqrt_t * math.sqrt(share_left) + b_ot * overtime
    return 1.0 / (1.0 + math.exp(-z))


def is_garbage_time(league: str, period: int, clock_seconds: int, margin: int) -> bool:
    """NFL: 4th quarter or later with a lead of 17+; NBA/WNBA: the last 5 minutes with a lead of 15+."""
    rules = RULES[league]
    if period < rules.late_period or abs(margin) < rules.garbage_lead:
        return False
    return rules.garbage_seconds is None or period > rules.regulation_periods or clock_seconds <= rules.garbage_seconds


def score_play(
    play: dict[str, Any], prev_home: int, prev_away: int, wp_before: float, wp_after: float
) -> dict[str, Any]:
    """Significance of ``play`` given the score before it and the home win probability before and after.

    Returns ``total_score`` (0..100), ``should_tweet`` (a candidate), ``urgency`` (high|medium|low),
    ``style`` (walk_off, go_ahead, lead_change, equalizer, final, big_swing, update), ``value`` (0..1) and
    the context flags ``lead_change``, ``tie``, ``clutch``, ``overtime``, ``final``, ``garbage``.
    """
    league = play["league"]
    rules = RULES[league]
    period, clock = play["period"], play["clock_seconds"]
    home, away = play["home_score"], play["away_score"]
    before, after = leader(prev_home, prev_away), leader(home, away)
    scored = home != prev_home or away != prev_away
    late = period >= rules.late_period
    overtime = period > rules.regulation_periods
    final = play["event_type"] == "game_end"
    clutch = overtime or (period == rules.regulation_periods and clock <= rules.clutch_seconds)
    garbage = is_garbage_time(league, period, clock, home - away)
    go_ahead = scored and after is not None and after != before
    lead_change = go_ahead and before is not None
    tie = scored and after is None and before is not None
    swing = abs(wp_after - wp_before)

    value = min(SWING_CAP, swing)
    style = "big_swing" if swing >= 0.15 else "update"
    if go_ahead:
        style = "lead_change" if lead_change else "go_ahead"
        if late:
            leader_wp = wp_after if after == "home" else 1.0 - wp_after
            share_left = 0.0 if overtime or period > rules.late_period else clock / PERIOD_SECONDS[league]
            value = max(value, holds_for_good(leader_wp, share_left, overtime))
            if clutch and clock <= 60:
                style = "walk_off"
        else:
            value = max(value, min(SWING_CAP, 0.1 + swing))
    elif tie:
        style = "equalizer"
        if late:
            seconds_left = clock if period >= rules.regulation_periods else clock + PERIOD_SECONDS[league]
            forces_overtime = EQUALIZER_MAX * math.exp(-seconds_left / rules.equalizer_time_scale)
            if overtime and league == "NFL":  # an NFL overtime never forces another one (it ends tied)
                forces_overtime = 0.05
            value = max(value, forces_overtime)
    elif final:
        style = "final"
        margin = abs(home - away)
        close = margin <= (8 if league == "NFL" else 5)
        value = 0.25 if overtime else (0.15 if close else 0.07)
    if garbage:
        value *= GARBAGE_FACTOR
    value = max(0.0, min(1.0, value))
    urgency = "high" if value >= 0.6 else "medium" if value >= 0.3 else "low"
    return {
        "total_score": round(100.0 * value, 2),
        "value": value,
        "should_tweet": value >= CANDIDATE_VALUE,
        "urgency": urgency,
        "style": style,
        "lead_change": lead_change,
        "go_ahead": go_ahead,
        "tie": tie,
        "clutch": clutch,
        "overtime": overtime,
        "final": final,
        "garbage": garbage,
    }
