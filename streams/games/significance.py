"""Significance of a play: how likely it is to be a moment that decides the game (pure).

The heart is ``value`` in 0..1. A late go-ahead score is worth the probability that the new leader now wins
(the lead holding for good is what makes it decisive); a late equalizer is worth the chance that it forces
overtime (the less time left, the more); other plays are worth their swing in win probability, capped below
the late scores. Garbage time (NFL 4th quarter with a lead of 17+, NBA/WNBA last 5 minutes with 15+) is worth
almost nothing. ``total_score`` is ``100 * value``; ``should_tweet`` marks a candidate for the budget, which
makes the final call (``streams/games/tweet_budget.py``).

``decisive`` is the probability that the play is one of the evaluation's decisive moments: the rule's value of
a late go-ahead score or equalizer, recalibrated by a logistic model fitted on 2009-2017
(``wirereport train decisive``, ``streams/games/models/nfl_decisive.json``); 0 for every other play. The tight
budget spends on it; ``value`` orders everything else.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from streams.games.win_probability import basketball as bb_wp

CANDIDATE_VALUE = 0.06  # below this a play is never offered to the budget
SWING_CAP = 0.3  # a mere swing in win probability is never worth as much as a late decisive score
GARBAGE_FACTOR = 0.02
# P(a late go-ahead score holds for good): logistic in logit(leader's WP), share of the 4th quarter left
# (t, sqrt t) and overtime, fitted on the NFL's 4th-quarter go-ahead scores of 2009-2017 (1,838 of them).
GO_AHEAD_WEIGHTS = (1.8272, 0.661, 5.2207, -7.4789, -1.548)
EQUALIZER_MAX = 0.75  # share of NFL equalizers in the last minute that forced overtime, 2009-2017
MODELS = Path(__file__).resolve().parent / "models"
DECISIVE_MODEL = MODELS / "nfl_decisive.json"
DECISIVE_FEATURES = ("intercept", "logit_raw", "tie")
# Basketball: the rule's raw probability comes from the Brownian model of the margin (Stern), so the
# recalibration also sees how much time is left (possessions, not minutes, decide how often a lead can turn).
BASKETBALL_DECISIVE_FEATURES = ("intercept", "logit_raw", "tie", "log_minutes_left", "tie_log_minutes_left")
# Before the 4th quarter a basketball score is worth at most this (below the budget's SURPLUS_MIN_VALUE): any
# basket can change the lead, and with a quarter or more to come none of them decides the game.
BASKETBALL_EARLY_CAP = 0.09


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


# the rules as plain tuples (in LeagueRules field order), unpacked once per play on the hot path
_RULE_TUPLES = {
    name: (r.late_period, r.regulation_periods, r.clutch_seconds, r.garbage_lead, r.garbage_seconds,
           r.equalizer_time_scale)
    for name, r in RULES.items()
}  # fmt: skip


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


def decisive_model_path(league: str) -> Path:
    """The shipped decisive-moment model of a league (``wirereport train decisive``)."""
    return MODELS / f"{league.lower()}_decisive.json"


def decisive_feature_names(league: str) -> tuple[str, ...]:
    return DECISIVE_FEATURES if league == "NFL" else BASKETBALL_DECISIVE_FEATURES


@cache
def decisive_weights(league: str) -> tuple[float, ...] | None:
    """Weights of the shipped decisive-moment model (``wirereport train decisive``); None: use the raw value."""
    path = decisive_model_path(league)
    if not path.exists():
        return None
    model = json.loads(path.read_text())
    if tuple(model["features"]) != decisive_feature_names(league):
        raise ValueError(f"{path}: model features do not match this code")
    return tuple(model["weights"])


def decisive_features(raw: float, tie: bool, league: str = "NFL", minutes_left: float = 0.0) -> tuple[float, ...]:
    """Features of the decisive-moment model: the rule's raw probability (as a logit) and the kind of score;
    basketball also the time left in the period (log minutes, for go-ahead scores and equalizers apart)."""
    p = min(max(raw, 1e-3), 1 - 1e-3)
    tie_flag = 1.0 if tie else 0.0
    if league == "NFL":
        return (1.0, math.log(p / (1 - p)), tie_flag)
    log_minutes = math.log(max(minutes_left, 0.0) + 0.1)
    return (1.0, math.log(p / (1 - p)), tie_flag, log_minutes, tie_flag * log_minutes)


def decisive_probability(league: str, raw: float, tie: bool, minutes_left: float = 0.0) -> float:
    """P(a late go-ahead score or equalizer is a decisive moment), the rule's ``raw`` estimate recalibrated
    by a logistic model (NFL: fitted on 2009-2017; NBA/WNBA: on simulated seasons)."""
    w = decisive_weights(league)
    if w is None or raw <= 0:
        return raw
    z = sum(wi * xi for wi, xi in zip(w, decisive_features(raw, tie, league, minutes_left), strict=True))
    return 1.0 / (1.0 + math.exp(-z))


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def basketball_minutes_left(league: str, period: int, clock_seconds: int) -> float:
    """Minutes left in the 4th quarter or the current overtime (where a late score's fate is decided)."""
    if period < 4:
        return (4 - period) * PERIOD_SECONDS[league] / 60.0 + clock_seconds / 60.0
    return max(clock_seconds, 0) / 60.0


def basketball_holds(league: str, lead: int, minutes_left: float) -> float:
    """P(a basketball lead of ``lead`` points is never lost nor tied again): the reflection principle on the
    Brownian margin (Stern), P(min of the walk stays above 0) = 2 Phi(lead / sd) - 1, half a point of
    continuity correction for whole-point scores. Overtime needs no term of its own: a lead that is never
    tied wins in this period."""
    if minutes_left <= 0:
        return 1.0
    sd = bb_wp.LEAGUES[league].sigma_per_minute * math.sqrt(minutes_left)
    return max(0.0, 2.0 * _normal_cdf((lead - 0.5) / sd) - 1.0)


def basketball_forces_overtime(league: str, minutes_left: float) -> float:
    """P(a basketball game tied now is still tied when the period ends): the Brownian margin ends within half a
    point of 0 (its density at 0 times a point), capped at 0.9 at the buzzer."""
    if minutes_left <= 0:
        return 0.9
    sd = bb_wp.LEAGUES[league].sigma_per_minute * math.sqrt(minutes_left)
    return min(0.9, 2.0 * _normal_cdf(0.5 / sd) - 1.0)


def is_garbage_time(league: str, period: int, clock_seconds: int, margin: int) -> bool:
    """NFL: 4th quarter or later with a lead of 17+; NBA/WNBA: the last 5 minutes with a lead of 15+."""
    rules = RULES[league]
    if period < rules.late_period or abs(margin) < rules.garbage_lead:
        return False
    return rules.garbage_seconds is None or period > rules.regulation_periods or clock_seconds <= rules.garbage_seconds


def urgency_of(value: float) -> str:
    """How urgent a moment of ``value`` (0..1) is: high, medium or low."""
    return "high" if value >= 0.6 else "medium" if value >= 0.3 else "low"


def score_play(
    play: dict[str, Any], prev_home: int, prev_away: int, wp_before: float, wp_after: float
) -> dict[str, Any]:
    """Significance of ``play`` given the score before it and the home win probability before and after.

    Returns ``total_score`` (0..100), ``should_tweet`` (a candidate), ``urgency`` (high|medium|low),
    ``style`` (walk_off, go_ahead, lead_change, equalizer, final, big_swing, update), ``value`` (0..1),
    ``decisive`` (P(the play is a decisive moment): a late go-ahead score holding for good or a late equalizer
    forcing overtime, recalibrated by the shipped model; 0 for every other play), ``decisive_raw`` (the rule's
    estimate before recalibration) and the context flags ``lead_change``, ``tie``, ``clutch``, ``overtime``,
    ``final``, ``garbage``.
    """
    league = play["league"]
    late_period, regulation, clutch_seconds, garbage_lead, garbage_seconds, eq_scale = _RULE_TUPLES[league]
    period, clock = play["period"], play["clock_seconds"]
    home, away = play["home_score"], play["away_score"]
    scored = home != prev_home or away != prev_away
    late = period >= late_period
    overtime = period > regulation
    final = play["event_type"] == "game_end"
    clutch = overtime or (period == regulation and clock <= clutch_seconds)
    margin = home - away
    garbage = (
        late
        and (margin >= garbage_lead or -margin >= garbage_lead)
        and (garbage_seconds is None or overtime or clock <= garbage_seconds)
    )
    swing = wp_after - wp_before if wp_after >= wp_before else wp_before - wp_after
    value = SWING_CAP if swing > SWING_CAP else swing
    style = "big_swing" if swing >= 0.15 else "update"
    go_ahead = lead_change = tie = False
    decisive = minutes_left = 0.0
    if scored:
        before, after = leader(prev_home, prev_away), leader(home, away)
        go_ahead = after is not None and after != before
        lead_change = go_ahead and before is not None
        tie = after is None and before is not None
        if go_ahead:
            style = "lead_change" if lead_change else "go_ahead"
            if late and league != "NFL":
                minutes_left = basketball_minutes_left(league, period, clock)
                decisive = basketball_holds(league, abs(margin), minutes_left)
                value = max(value, decisive)
                if clutch and clock <= 60:
                    style = "walk_off"
            elif late:
                leader_wp = wp_after if after == "home" else 1.0 - wp_after
                share_left = 0.0 if overtime or period > late_period else clock / PERIOD_SECONDS[league]
                decisive = holds_for_good(leader_wp, share_left, overtime)
                value = max(value, decisive)
                if clutch and clock <= 60:
                    style = "walk_off"
            elif league == "NFL":
                value = max(value, min(SWING_CAP, 0.1 + swing))
        elif tie:
            style = "equalizer"
            if late and league != "NFL":
                minutes_left = basketball_minutes_left(league, period, clock)
                decisive = basketball_forces_overtime(league, minutes_left)
                value = max(value, decisive)
            elif late:
                seconds_left = clock if period >= regulation else clock + PERIOD_SECONDS[league]
                forces_overtime = EQUALIZER_MAX * math.exp(-seconds_left / eq_scale)
                if overtime and league == "NFL":  # an NFL overtime never forces another one (it ends tied)
                    forces_overtime = 0.05
                decisive = forces_overtime
                value = max(value, forces_overtime)
    if final and not go_ahead and not tie:
        style = "final"
        margin = abs(home - away)
        close = margin <= (8 if league == "NFL" else 5)
        value = 0.25 if overtime else (0.15 if close else 0.07)
    if league != "NFL" and not late:
        value = min(value, BASKETBALL_EARLY_CAP)
    raw_decisive = decisive
    if decisive > 0:
        decisive = decisive_probability(league, decisive, tie, minutes_left)
    if garbage:
        value *= GARBAGE_FACTOR
        decisive *= GARBAGE_FACTOR
    value = 0.0 if value < 0.0 else 1.0 if value > 1.0 else value
    urgency = urgency_of(value)
    return {
        "total_score": round(100.0 * value, 2),
        "value": value,
        "decisive": decisive,
        "decisive_raw": raw_decisive,
        "minutes_left": minutes_left,
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
