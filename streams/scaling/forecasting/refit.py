"""Periodic refit with statsmodels: ETS (Holt-Winters) and a seasonal ARIMA fitted on a league's recent history.

``refit`` is CPU-heavy and pure: the agent runs it in an executor (off the event loop) on a snapshot of
the history. Each candidate is fitted on all but the last ``holdout`` samples and scored on them (one-step
forecasts, learning as it goes: the online models' error); the better one is returned with its error per
held-out sample, and ``LeagueForecaster.swap_in`` adopts it only if it beats what the online ensemble told
the policy on those same samples.

- ETS: the fitted smoothing parameters and final states seed a river Holt-Winters model, which then keeps
  learning online like the others;
- ARIMA: dynamic harmonic regression with ARMA(1, 1) errors (``streams.scaling.forecasting.arima``), fitted by
  statsmodels' SARIMAX on the last two weeks.

Both fit on a bounded recent window (``ETS_WINDOW``, ``ARIMA_WINDOW``), so a refit costs the same however
long the history grows. ETS estimates its initial states (a season of 288 values at 5-minute steps) with the
smoothing parameters, and its cost grows fast with the series: on bank_calls (8,064 samples of history,
65 days) an unbounded fit took 14 s CPU on average (max 17 s), a 28-day window 1.8 s (max 1.9 s), for a
held-out MAE 2% higher (0.0398 vs 0.0389 calls/s over 7 cut points); shorter windows lose more (14 days: +5%).
The whole refit (the better of both candidates) went from 13 s CPU on average (max 25 s) to 3.2 s (max 5.4 s),
its held-out MAE from 0.0376 to 0.0380 (+1%).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from streams.scaling.forecasting.arima import fit_arima
from streams.scaling.forecasting.base import DAY, WEEK, Forecaster
from streams.scaling.forecasting.river_models import RiverHoltWinters, _ZeroTrend

REFIT_MODELS = ("ets", "arima")
ETS_WINDOW = 28 * DAY  # the ETS candidate fits on the samples of the last 28 days (28 daily seasons)
ARIMA_WINDOW = 2 * WEEK  # the ARIMA candidate on the last two weeks


@dataclass
class RefitResult:
    model: Forecaster
    holdout_mae: float
    last_t: float
    fitted_on: int
    candidates: dict[str, float] = field(default_factory=dict)  # every candidate's held-out MAE
    holdout: list[tuple[float, float]] = field(default_factory=list)  # (t, abs one-step error) of ``model``


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


def refit(
    history: list[tuple[float, float]],
    step: float,
    holdout: int = 288,
    models: tuple[str, ...] = REFIT_MODELS,
    *,
    ets_window: float | None = ETS_WINDOW,
    arima_window: float = ARIMA_WINDOW,
) -> RefitResult | None:
    """Fit each of ``models`` on all but the last ``holdout`` samples; return the best on them (or None).

    Each candidate fits on the samples of its window (seconds before the last training sample; ``None``:
    all of them).
    """
    season = round(DAY / step)
    if len(history) < 2 * season + holdout:
        return None
    train, test = history[:-holdout], history[-holdout:]
    results: list[tuple[float, str, Forecaster, list[tuple[float, float]]]] = []
    for name in models:
        if name == "ets":
            model = fit_ets(train, step, window=ets_window)
        elif name == "arima":
            model = fit_arima(train, step, window=arima_window)
        else:
            continue
        if model is None:
            continue
        errors = holdout_errors(model, test)
        if errors:
            results.append((float(np.mean([e for _, e in errors])), name, model, errors))
    if not results:
        return None
    mae, _, best, errors = min(results, key=lambda r: r[0])
    return RefitResult(best, mae, test[-1][0], len(train), {name: m for m, name, _, _ in results}, errors)


def holdout_errors(model: Forecaster, test: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(t, absolute one-step error) on ``test`` (the model learns each sample after forecasting it)."""
    errors = []
    for t, y in test:
        f = model.forecast(t - model.last_t) if model.last_t is not None else None
        if f is not None:
            errors.append((t, abs(y - f)))
        model.learn_one(t, y)
    return errors


def fit_ets(
    train: list[tuple[float, float]], step: float, *, window: float | None = ETS_WINDOW
) -> RiverHoltWinters | None:
    """Additive Holt-Winters (daily season) fitted by statsmodels on the last ``window`` seconds of ``train``.

    Its states seed a river Holt-Winters, which has learned all of ``train`` (it ends where ``train`` ends).
    """
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    season = round(DAY / step)
    if window is not None:
        start = train[-1][0] - window
        train = [p for p in train if p[0] > start]
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
    if not math.isfinite(level) or not all(math.isfinite(s) for s in seasons):
        return None
    model.model.trend = _ZeroTrend()
    model.model.level.append(level)
    model.model.season.extend(seasons)
    model.model._initialized = True
    model._ready = True
    model._last_index = math.floor(train[-1][0] / step + 0.5)
    model.last_t = train[-1][0]
    model._peak = max(y for _, y in train[-season:])
    return model
