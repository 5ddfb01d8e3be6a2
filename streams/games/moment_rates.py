"""How many tweet-worthy moments a game still holds: an empirical table, learned from past seasons (pure).

A game's position is summarised as (phase, closeness): phases 0-8 are the first three quarters in 5-minute
steps (pregame counts as 0), 9-14 the 4th quarter with more than 10, 5, 3, 2, 1 and 0 minutes left (NFL
scale; other leagues by share of the period), 15 is overtime; closeness 0 is a toss-up (|WP - 0.5| < 0.2), 1 leaning, 2 decided.
For each, the table holds the expected number of moments still to come in that game whose value is at least
each level of ``VALUE_GRID``, and a second table the same for the probability of being a decisive moment
(late go-ahead or equalizer). The budget sums these over the day's unfinished games to set its thresholds.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

MODELS = Path(__file__).resolve().parent / "models"
VALUE_GRID = tuple(round(0.1 + 0.05 * i, 2) for i in range(19))  # 0.10 .. 1.00
PHASES = 16
LAST_QUARTER_STEPS = (600, 300, 180, 120, 60)  # seconds left (NFL scale) opening phases 9-13
CLOSENESS = 3
REGULATION_SECONDS = {"NFL": 3600, "NBA": 2880, "WNBA": 2400}
PERIOD_SECONDS = {"NFL": 900, "NBA": 720, "WNBA": 600}


@cache
def phase(league: str, period: int, clock_seconds: int) -> int:
    """0-8: the first three quarters in twelfths of regulation; 9-14: the 4th quarter, finer; 15: overtime."""
    if period > 4:
        return 15
    length = PERIOD_SECONDS[league]
    if period < 4:
        elapsed = (period - 1) * length + length - clock_seconds
        return max(0, min(8, elapsed * 12 // REGULATION_SECONDS[league]))
    left = clock_seconds * 900 / length
    for k, step in enumerate(LAST_QUARTER_STEPS):
        if left > step:
            return 9 + k
    return 14


def closeness(wp_home: float) -> int:
    d = abs(wp_home - 0.5)
    return 0 if d < 0.2 else 1 if d < 0.4 else 2


def grid_index(value: float) -> int:
    """Index of the highest grid level not above ``value`` (-1 when below the grid)."""
    return bisect.bisect_right(VALUE_GRID, value + 1e-9) - 1


def fit(games: Iterable[Sequence[tuple[int, int, float]]]) -> dict[str, Any]:
    """Fit the table from games given as per-play (phase, closeness, moment value or 0, ...) sequences.

    The expectation at (phase, closeness) averages, over every play of the past games in that position, the
    count of later moments of that game at or above each grid level.
    """
    sums = [[[0.0] * len(VALUE_GRID) for _ in range(CLOSENESS)] for _ in range(PHASES)]
    counts = [[0] * CLOSENESS for _ in range(PHASES)]
    n_games = 0
    for plays in games:
        n_games += 1
        later = [0] * len(VALUE_GRID)  # counts of moments after the current play, walking backwards
        for ph, cl, value, *_ in reversed(plays):
            counts[ph][cl] += 1
            row = sums[ph][cl]
            for k in range(len(VALUE_GRID)):
                row[k] += later[k]
            top = grid_index(value)
            for k in range(top + 1):
                later[k] += 1
    table = [
        [[round(s / counts[ph][cl], 4) if counts[ph][cl] else None for s in sums[ph][cl]] for cl in range(CLOSENESS)]
        for ph in range(PHASES)
    ]
    # fill empty cells from the nearest filled phase of the same closeness
    for cl in range(CLOSENESS):
        for ph in range(PHASES):
            if table[ph][cl][0] is None:
                donors = [p for p in range(PHASES) if table[p][cl][0] is not None]
                nearest = min(donors, key=lambda p: abs(p - ph)) if donors else None
                table[ph][cl] = list(table[nearest][cl]) if nearest is not None else [0.0] * len(VALUE_GRID)
    pregame = [table[0][0][k] for k in range(len(VALUE_GRID))]
    return {"value_grid": list(VALUE_GRID), "games": n_games, "table": table, "pregame": pregame}


def fit_with_decisive(games: Iterable[Sequence[tuple[int, int, float, float]]]) -> dict[str, Any]:
    """Both tables from per-play (phase, closeness, moment value, decisive probability) sequences.

    ``table``/``pregame`` count moments by value (what is worth a tweet); ``decisive_table``/``decisive_pregame``
    by the probability of being a decisive moment (what the tight budget keeps its tweets for).
    """
    games = [list(g) for g in games]
    out = fit(games)
    decisive = fit([(ph, cl, d) for ph, cl, _v, d in g] for g in games)
    out.update(decisive_table=decisive["table"], decisive_pregame=decisive["pregame"])
    return out


@cache
def load(league: str) -> dict[str, Any]:
    """The shipped table for a league (NBA and WNBA use the NFL table until they have their own)."""
    path = MODELS / f"{league.lower()}_moment_rates.json"
    if not path.exists():
        path = MODELS / "nfl_moment_rates.json"
    return json.loads(path.read_text())


def expected_moments(table: dict[str, Any], ph: int | None, cl: int, value: float) -> float:
    """Expected number of moments of value >= ``value`` still to come in a game (``ph`` None: not started).

    Linear between grid levels (above the top level it falls to 0 at value 1).
    """
    row = table["pregame"] if ph is None else table["table"][ph][cl]
    k = grid_index(value)
    if k < 0:
        return row[0]
    lo = VALUE_GRID[k]
    if k + 1 < len(VALUE_GRID):
        hi, upper = VALUE_GRID[k + 1], row[k + 1]
    else:
        hi, upper = 1.0 + 1e-9, 0.0
    share = (value - lo) / (hi - lo) if hi > lo else 0.0
    return row[k] + (upper - row[k]) * min(max(share, 0.0), 1.0)
