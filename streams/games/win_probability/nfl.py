"""NFL win probability: a logistic model on the game situation after a play (pure, a few arithmetic ops).

Features are built from the home team's point of view: score margin, time left, possession, field position,
down and distance, and their interactions with ``1/sqrt(time left)`` (a lead or the ball matters more the less
time is left, as in a Brownian-motion model). The fitted weights ship in ``streams/games/models/nfl_wp.json``
(``wirereport train wp --league NFL`` reproduces them) and are read once, on first use.
"""

from __future__ import annotations

import json
import math
from functools import cache
from math import exp, sqrt
from pathlib import Path
from typing import Any

MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "nfl_wp.json"
TIME_OFFSET = 0.01  # hours added to time left inside 1/sqrt(.), so the last second stays finite
REGULATION_PERIODS = 4
PERIOD_SECONDS = 900

FEATURE_NAMES = (
    "intercept",
    "margin_g",
    "poss_g",
    "poss_field_g",
    "poss_third_down_g",
    "poss_fourth_down_g",
    "poss_to_go_g",
    "poss_try_pending_g",
    "poss_kickoff_g",
    "hours_left",
    "margin",
    "poss",
    "poss_field",
    "poss_field_sq_g",
    "lead3_g",
    "lead8_g",
    "lead_over8_g",
    "lead_over16_g",
    "leader_has_ball_last2min",
    "leader_has_ball_last5min",
    "poss_tied_g",
    "poss_within3_g",
    "poss_overtime",
    "strength_hours",
    "strength_sqrt_hours",
    "strength",
)


def seconds_left(period: int, clock_seconds: int) -> int:
    """Seconds left in regulation (in overtime: left in the overtime period)."""
    if period <= REGULATION_PERIODS:
        return (REGULATION_PERIODS - period) * PERIOD_SECONDS + max(clock_seconds, 0)
    return max(clock_seconds, 0)


def features(
    period: int,
    clock_seconds: int,
    margin: int,
    possession: int,
    yardline_100: int | None,
    down: int | None,
    yards_to_go: int | None,
    strength: float = 0.0,
) -> list[float]:
    """The feature vector (order of FEATURE_NAMES). ``possession`` is +1 home, -1 away, 0 unknown.

    ``strength`` is the pre-game Elo difference, home minus away, in hundreds of points (``team_ratings``).
    """
    t = seconds_left(period, clock_seconds)
    hours = t / 3600.0
    g = 1.0 / math.sqrt(hours + TIME_OFFSET)
    s = possession
    yl = 75 if yardline_100 is None else yardline_100
    d = down or 0
    has_down = 1 if (s and d) else 0
    try_pending = 1 if (s and not d and yl <= 15) else 0
    kickoff = 1 if (s and not d and yl > 15) else 0
    field = (50 - yl) / 50.0
    sign = (margin > 0) - (margin < 0)
    lead = abs(margin)
    leader_has_ball = sign if s * margin > 0 else 0
    regulation = period <= REGULATION_PERIODS
    ytg = min(yards_to_go or 0, 20) / 10.0
    return [
        1.0,
        margin * g,
        s * g,
        s * field * g,
        has_down * s * (d == 3) * g,
        has_down * s * (d == 4) * g,
        has_down * s * ytg * g,
        s * try_pending * g,
        s * kickoff * g,
        hours,
        float(margin),
        float(s),
        s * field,
        s * field * field * g,
        sign * min(lead, 3) * g,
        sign * min(lead, 8) * g,
        sign * max(lead - 8, 0) * g,
        sign * max(lead - 16, 0) * g,
        float(leader_has_ball * (regulation and t <= 120)),
        float(leader_has_ball * (t <= 300)),
        s * (margin == 0) * g,
        s * (lead <= 3) * g,
        float(s * (not regulation)),
        strength * hours,
        strength * math.sqrt(hours),
        strength,
    ]


def play_features(play: dict[str, Any], strength: float = 0.0) -> list[float]:
    """Features of a Play record (scores and situation after the play)."""
    pos = play.get("possession")
    s = 1 if pos == play["home_team"] else -1 if pos and pos == play["away_team"] else 0
    return features(
        play["period"],
        play["clock_seconds"],
        play["home_score"] - play["away_score"],
        s,
        play.get("yardline_100"),
        play.get("down"),
        play.get("yards_to_go"),
        strength,
    )


@cache
def load_model(path: str | None = None) -> dict[str, Any]:
    """The fitted model (weights keyed by feature name), read once per path."""
    model = json.loads(Path(path or MODEL_PATH).read_text())
    if tuple(model["features"]) != FEATURE_NAMES:
        raise ValueError(f"{path or MODEL_PATH}: model features do not match this code")
    return model


@cache
def _weights() -> tuple[float, ...]:
    return tuple(load_model()["weights"])


def probability(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def win_prob_home(play: dict[str, Any], weights: tuple[float, ...] | None = None, strength: float = 0.0) -> float:
    """Probability that the home team wins, given the state after ``play`` (a tie counts as half).

    ``sum(weights * play_features(play))`` is computed without building the feature list (the hot path of
    every play), its terms grouped as ``a + g * b`` (``g = 1/sqrt(hours left)``): equal to the dot product up
    to float rounding (~1e-15).
    """
    w = weights or _weights()
    margin = play["home_score"] - play["away_score"]
    period, clock_seconds = play["period"], play["clock_seconds"]
    if play.get("event_type") == "game_end" or (
        period >= REGULATION_PERIODS and clock_seconds <= 0 and margin != 0
    ):  # over: regulation or overtime ran out with a leader
        return 1.0 if margin > 0 else 0.0 if margin < 0 else 0.5
    pos = play.get("possession")
    s = 1 if pos == play["home_team"] else -1 if pos and pos == play["away_team"] else 0
    yardline_100, down, yards_to_go = play.get("yardline_100"), play.get("down"), play.get("yards_to_go")
    clock = clock_seconds if clock_seconds > 0 else 0
    t = (REGULATION_PERIODS - period) * PERIOD_SECONDS + clock if period <= REGULATION_PERIODS else clock
    hours = t / 3600.0
    g = 1.0 / sqrt(hours + TIME_OFFSET)
    a = w[0] + w[9] * hours + w[10] * margin
    b = w[1] * margin
    if s:
        yl = 75 if yardline_100 is None else yardline_100
        field = (50 - yl) / 50.0
        d = down or 0
        bs = w[2] + w[3] * field + w[13] * field * field
        if d:
            bs += w[6] * (min(yards_to_go or 0, 20) / 10.0)
            if d == 3:
                bs += w[4]
            elif d == 4:
                bs += w[5]
        else:
            bs += w[7] if yl <= 15 else w[8]
        if margin == 0:
            bs += w[20]
        if -3 <= margin <= 3:
            bs += w[21]
        b += s * bs
        a += s * (w[11] + w[12] * field)
        if period > REGULATION_PERIODS:
            a += w[22] * s
    if margin:
        sign = 1 if margin > 0 else -1
        lead = margin * sign
        bl = w[14] * min(lead, 3) + w[15] * min(lead, 8)
        if lead > 8:
            bl += w[16] * (lead - 8)
            if lead > 16:
                bl += w[17] * (lead - 16)
        b += sign * bl
        if s * margin > 0:
            if period <= REGULATION_PERIODS and t <= 120:
                a += w[18] * sign
            if t <= 300:
                a += w[19] * sign
    if strength:
        a += w[23] * (strength * hours) + w[24] * (strength * sqrt(hours)) + w[25] * strength
    z = a + g * b
    if z >= 0:
        return 1.0 / (1.0 + exp(-z))
    e = exp(z)
    return e / (1.0 + e)
