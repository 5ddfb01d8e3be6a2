"""Periodic refit with statsmodels: Holt-Winters (ETS) fitted on the recent history of a league.

``refit`` is CPU-heavy and pure: the agent runs it in an executor (off the event loop) on a snapshot of
the history, then ``LeagueForecaster.swap_in`` adopts the result only if its error on the held-out tail
beats the chosen model's rolling error. The fitted smoothing parameters and final states seed a river
Holt-Winters model, which then keeps learning online like the others.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from streams.forecasting.base import DAY
from streams.forecasting.river_models import RiverHoltWinters, _ZeroTrend


@dataclass
class RefitResult:
    model: RiverHoltWinters
    holdout_mae: float
    last_t: float
    fitted_on: int


def _grid(history: list[tuple[float, float]], step: float) -> tuple[np.ndarray, float]:
    """Values on a regular grid of ``step`` seconds (gaps filled from one season earlier, else interpolated)."""
    t0 = math.floor(history[0][0] / step + 0.5)
    n = math.floor(history[-1][0] / step + 0.5) - t0 + 1
    grid = np.full(n, np.nan)
    for t, y in history:
        grid[math.floor(t / step + 0.5) - t0] = y
    season = round(DAY / step)
    for i in np.flatnonzero(np.isnan(grid)):
        if i >= season and not np.isnan(grid[i - season]):
            grid[i] = grid[i - season]
    missing = np.isnan(grid)
    if missing.any():
        known = np.flatnonzero(~missing)
        grid[missing] = np.interp(np.flatnonzero(missing), known, grid[known])
    return grid, t0 * step


def refit(history: list[tuple[float, float]], step: float, holdout: int = 288) -> RefitResult | None:
    """Fit additive Holt-Winters (daily season) on all but the last ``holdout`` samples; score it on them."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    season = round(DAY / step)
    if len(history) < 2 * season + holdout:
        return None
    train, test = history[:-holdout], history[-holdout:]
    grid, _ = _grid(train, step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(grid, trend=None, seasonal="add", seasonal_periods=season).fit(use_brute=False)
    alpha = float(min(max(fit.params["smoothing_level"], 0.01), 0.99))
    gamma = float(min(max(fit.params["smoothing_seasonal"], 0.01), 0.99))
    model = RiverHoltWinters(step, DAY, alpha=alpha, gamma=gamma)
    model.name = "ets_refit"
    level = float(fit.level[-1])
    seasons = [float(s) for s in fit.season[-season:]]
    model.model.trend = _ZeroTrend()
    model.model.level.append(level)
    model.model.season.extend(seasons)
    model.model._initialized = True
    model._ready = True
    model._last_index = math.floor(train[-1][0] / step + 0.5)
    model.last_t = train[-1][0]
    errors = []
    for t, y in test:
        f = model.forecast(t - model.last_t)
        if f is not None:
            errors.append(abs(y - f))
        model.learn_one(t, y)
    if not errors:
        return None
    return RefitResult(model, float(np.mean(errors)), test[-1][0], len(train))
