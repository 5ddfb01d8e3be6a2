"""A seasonal ARIMA candidate for the periodic refit: dynamic harmonic regression with ARMA(1, 1) errors.

Seasons of a day (288 five-minute steps) or a week are far too long for a seasonal ARIMA's state space, so
the seasons are Fourier terms of the clock time (daily and weekly harmonics, as in Hyndman's "dynamic
harmonic regression") and the errors are ARMA(1, 1), fitted by statsmodels' ``SARIMAX`` in two bounded
stages on a recent window: the harmonics by least squares, then the ARMA on their residuals (on a regular
grid whose gaps are missing values, which SARIMAX's Kalman filter handles). The fitted coefficients then
run online like every other model: ``learn_one`` updates the error and innovation, ``forecast`` adds the
ARMA's h-step error forecast to the harmonic mean at the target time. Indexed by clock time, it handles
gaps and irregular steps (a gap of k steps is a k-step forecast of the error).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from streams.scaling.forecasting.base import DAY, WEEK

TWO_PI = 2 * math.pi


def harmonics(t: np.ndarray | float, daily: int, weekly: int) -> np.ndarray:
    """Regressors at epoch seconds ``t``: a constant, ``daily`` and ``weekly`` sine/cosine pairs."""
    t = np.atleast_1d(np.asarray(t, dtype=float))
    day = (t % DAY) / DAY
    week = ((t - 4 * DAY) % WEEK) / WEEK  # weeks from Monday 00:00 UTC, as week_position
    columns = [np.ones_like(t)]
    for k in range(1, daily + 1):
        columns += [np.sin(TWO_PI * k * day), np.cos(TWO_PI * k * day)]
    for k in range(1, weekly + 1):
        columns += [np.sin(TWO_PI * k * week), np.cos(TWO_PI * k * week)]
    return np.column_stack(columns)


class HarmonicARIMA:
    """``y(t) = X(t) b + e(t)``, ``e`` ARMA(1, 1) with coefficients ``ar``, ``ma`` (fitted; see ``fit_arima``)."""

    name = "arima_refit"

    def __init__(self, step: float, coef: np.ndarray, ar: float, ma: float, daily: int, weekly: int):
        self.step = float(step)
        self.coef = [float(c) for c in coef]  # plain floats: the online path does scalar math
        self.ar = float(ar)
        self.ma = float(ma)
        self.daily = daily
        self.weekly = weekly
        self.last_t: float | None = None
        self._index: int | None = None
        self._error = 0.0  # e at the last sample
        self._shock = 0.0  # the innovation at the last sample
        self._peak = 0.0  # slowly decaying maximum (caps forecasts, as the river wrappers do)

    def mean(self, t: float) -> float:
        """The harmonic (seasonal) part at epoch second ``t`` (``harmonics(t) @ coef``, for one time)."""
        coef = self.coef
        total = coef[0]
        i = 1
        for period, origin, count in ((DAY, 0.0, self.daily), (WEEK, 4 * DAY, self.weekly)):
            phase = TWO_PI * (((t - origin) % period) / period)
            for k in range(1, count + 1):
                total += coef[i] * math.sin(k * phase) + coef[i + 1] * math.cos(k * phase)
                i += 2
        return total

    def _error_forecast(self, steps: int) -> float:
        # ARMA(1,1): E[e(t+1)] = ar e(t) + ma shock(t); further steps decay with ar
        return self.ar ** (steps - 1) * (self.ar * self._error + self.ma * self._shock)

    def learn_one(self, t: float, y: float) -> None:
        peak = self._peak * 0.9995
        self._peak = y if y > peak else peak
        index = math.floor(t / self.step + 0.5)
        error = y - self.mean(t)
        if self._index is None:
            self._error, self._shock = error, 0.0
        elif index > self._index:
            expected = self._error_forecast(index - self._index)
            self._error, self._shock = error, error - expected
        else:  # same grid cell: keep the newest value
            self._error = error
        self._index = index
        self.last_t = t

    def forecast(self, horizon: float) -> float | None:
        if self.last_t is None:
            return None
        steps = max(1, round(horizon / self.step))
        value = self.mean(self.last_t + horizon) + self._error_forecast(steps)
        if value <= 0.0:
            return 0.0
        cap = 3.0 * self._peak
        return cap if cap > 0 and value > cap else value


def fit_arima(
    history: list[tuple[float, float]],
    step: float,
    *,
    window: float = 2 * WEEK,
    daily: int = 8,
    weekly: int = 3,
    maxiter: int = 50,
) -> HarmonicARIMA | None:
    """Fit on the samples of the last ``window`` seconds of ``history``; the model has learned them all.

    Bounded work: at most ``window / step`` grid points, ``1 + 2 (daily + weekly)`` least-squares
    columns and a three-parameter SARIMAX(1, 0, 1) fit of at most ``maxiter`` iterations.
    """
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    end = history[-1][0]
    recent = [(t, y) for t, y in history if t > end - window]
    if len(recent) < 2 * round(DAY / step) and len(recent) < 200:
        return None
    times = np.array([t for t, _ in recent])
    values = np.array([y for _, y in recent])
    if times[-1] - times[0] < WEEK:
        weekly = 0  # under a week of samples (30 s metrics keep 2.8 days) cannot identify weekly harmonics
    design = harmonics(times, daily, weekly)
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    residual = values - design @ coef
    # the residuals on a regular grid, gaps missing (the Kalman filter skips them)
    index = np.floor(times / step + 0.5).astype(np.int64)
    grid = np.full(int(index[-1] - index[0]) + 1, np.nan)
    grid[index - index[0]] = residual
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = SARIMAX(grid, order=(1, 0, 1), trend="n").fit(disp=False, maxiter=maxiter)
    params = dict(zip(fitted.model.param_names, fitted.params, strict=True))
    ar, ma = float(params.get("ar.L1", 0.0)), float(params.get("ma.L1", 0.0))
    if not (math.isfinite(ar) and math.isfinite(ma)) or not np.all(np.isfinite(coef)):
        return None
    model = HarmonicARIMA(step, coef, ar, ma, daily, weekly)
    for t, y in recent:
        model.learn_one(t, y)
    return model
