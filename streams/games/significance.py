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

CANDIDATE_VALUE = 0.06  # below this a play is never offered to the budget
SWING_CAP = 0.3  # a mere swing in win probability is never worth as much as a late decisive score
GARBAGE_FACTOR = 0.02
# P(a late go-ahead score holds for good): logistic in logit(leader's WP), share of the 4th quarter left
# (t, sqrt t) and overtime, fitted on the NFL's 4th-quarter go-ahead scores of 2009-2017 (1,838 of them).
GO_AHEAD_WEIGHTS = (1.8272, 0.661, 5.2207, -7.4789, -1.548)
EQUALIZER_MAX = 0.75  # share of NFL equalizers in the last minute that forced overtime, 2009-2017
DECISIVE_MODEL = Path(__file__).resolve().parent / "models" / "nfl_decisive.json"
DECISIVE_FEATURES = ("intercept", "logit_raw", "tie")


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


@cache
def decisive_weights(league: str) -> tuple[float, ...] | None:
    """Weights of the shipped decisive-moment model (``wirereport train decisive``); None: use the raw value."""
    if league != "NFL" or not DECISIVE_MODEL.exists():
        return None
    model = json.loads(DECISIVE_MODEL.read_text())
    if tuple(model["features"]) != DECISIVE_FEATURES:
        raise ValueError(f"{DECISIVE_MODEL}: model features do not match this code")
    return tuple(model["weights"])


def decisive_features(raw: float, tie: bool) -> tuple[float, float, float]:
    """Features of the decisive-moment model: the rule's raw probability (as a logit) and the kind of score."""
    p = min(max(raw, 1e-3), 1 - 1e-3)
    return (1.0, math.log(p / (1 - p)), 1.0 if tie else 0.0)


def decisive_probability(league: str, raw: float, tie: bool) -> float:
    """P(a late go-ahead score or equalizer is a decisive moment), the rule's ``raw`` estimate recalibrated
    by a logistic model fitted on 2009-2017 (go-ahead scores and equalizers are calibrated differently)."""
    w = decisive_weights(league)
    if w is None or raw <= 0:
        return raw
    z = sum(wi * xi for wi, xi in zip(w, decisive_features(raw, tie), strict=True))
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
    decisive = 0.0
    if scored:
        before, after = leader(prev_home, prev_away), leader(home, away)
        go_ahead = after is not None and after != before
        lead_change = go_ahead and before is not None
        tie = after is None and before is not None
        if go_ahead:
            style = "lead_change" if lead_change else "go_ahead"
            if late:
                leader_wp = wp_after if after == "home" else 1.0 - wp_after
                share_left = 0.0 if overtime or period > late_period else clock / PERIOD_SECONDS[league]
                decisive = holds_for_good(leader_wp, share_left, overtime)
                value = max(value, decisive)
                if clutch and clock <= 60:
                    style = "walk_off"
            else:
                value = max(value, min(SWING_CAP, 0.1 + swing))
        elif tie:
            style = "equalizer"
            if late:
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
    raw_decisive = decisive
    if decisive > 0:
        decisive = decisive_probability(league, decisive, tie)
    if garbage:
        value *= GARBAGE_FACTOR
        decisive *= GARBAGE_FACTOR
    value = 0.0 if value < 0.0 else 1.0 if value > 1.0 else value
    urgency = "high" if value >= 0.6 else "medium" if value >= 0.3 else "low"
    return {
        "total_score": round(100.0 * value, 2),
        "value": value,
        "decisive": decisive,
        "decisive_raw": raw_decisive,
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
