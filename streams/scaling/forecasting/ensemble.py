"""Per-league forecaster: several online models learn every sample; the one with the lowest rolling
error answers. Tracks accuracy (MAE/MAPE per horizon) and the recent forecast-error quantile that the
scaling policy turns into headroom.

The answer is adjusted by an AR(1) forecast of the chosen model's own one-step errors (Taylor's adjustment
for double-seasonal exponential smoothing of electricity demand): seasonal models lag when the load runs
above or below its usual shape for hours, and their errors are then autocorrelated. The coefficient is
estimated online (EWMA least squares, clipped to [0, 0.99]); on white-noise errors it stays near 0.

Models run on the samples' own step (a whole fraction of a day: 30 s metrics give 30 s, 2,880 slots a day).
Every sample's one-step error as the policy saw it is kept (bounded), so a statsmodels refit is compared with
the ensemble on exactly its held-out samples (``swap_in``). Non-finite or negative workloads are not learned.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from river import stats

from streams.scaling.forecasting.base import DAY, WEEK, Forecaster
from streams.scaling.forecasting.profile import LastValue, SeasonalProfile
from streams.scaling.forecasting.river_models import RiverHoltWinters, RiverSNARIMAX

DEFAULT_MODELS = ("profile_daily", "profile_weekly", "hw_daily", "hw_weekly")
TUNED_STEP = 300.0  # the smoothing below was tuned on 5-minute samples (bank_calls)
MIN_STEP, MAX_STEP = 10.0, 3600.0
# grid steps a day is a whole number of (so a week is too): the seasons of the models stay aligned to the clock
GRID_STEPS = tuple(float(s) for s in range(int(MIN_STEP), int(MAX_STEP) + 1) if 86400 % s == 0)
ALL_MODELS = (*DEFAULT_MODELS, "snarimax")
MEAN = "mean"  # the average of the ready models, scored like a model
_INF = math.inf


def grid_step(step: float) -> float:
    """The models' grid step for samples ``step`` seconds apart: the nearest whole fraction of a day (10 s..1 h)."""
    return min(GRID_STEPS, key=lambda s: abs(math.log(s / step))) if step > 0 else MIN_STEP


def per_step(rate: float, step: float) -> float:
    """A smoothing rate tuned per ``TUNED_STEP`` as a rate per ``step`` (same time constant) for finer steps.

    With more samples per hour at the same rate, a level follows the load so fast that it absorbs the daily
    shape and the season stops learning it (30 s samples of a daily pattern with Poisson noise: 1-hour-ahead
    MAE 0.480 at the tuned rates, 0.446 with these). Coarser steps keep the tuned rate (the 5-minute path is
    unchanged, bit for bit).
    """
    return rate if step >= TUNED_STEP else 1.0 - (1.0 - rate) ** (step / TUNED_STEP)


def build_model(name: str, step: float) -> Forecaster:
    """A fresh model by name, for series sampled every ``step`` seconds (smoothing tuned on bank_calls).

    Level rates are per ``TUNED_STEP`` (see ``per_step``); season rates are per visit of a season slot (one
    slot per step: once a period, at any step).
    """
    if name == "profile_daily":
        return SeasonalProfile(DAY, slot_seconds=step, alpha=per_step(0.2, step), gamma=0.1)
    if name == "profile_weekly":
        return SeasonalProfile(WEEK, slot_seconds=step, alpha=per_step(0.2, step), gamma=0.2)
    if name == "hw_daily":
        return RiverHoltWinters(step, DAY, alpha=per_step(0.3, step), gamma=0.1)
    if name == "hw_weekly":
        return RiverHoltWinters(step, WEEK, alpha=per_step(0.2, step), gamma=0.1)
    if name == "snarimax":
        return RiverSNARIMAX(step, DAY)
    if name == "naive":
        return LastValue()
    raise ValueError(f"unknown forecasting model {name!r}; known: {', '.join((*ALL_MODELS, 'naive'))}")


@dataclass
class HorizonAccuracy:
    """Running MAE and MAPE of forecasts made ``horizon`` seconds ahead."""

    horizon: float
    count: int = 0
    abs_error: float = 0.0
    pct_count: int = 0
    pct_error: float = 0.0

    def add(self, forecast: float, actual: float) -> None:
        self.count += 1
        self.abs_error += abs(actual - forecast)
        if actual > 0:
            self.pct_count += 1
            self.pct_error += abs(actual - forecast) / actual

    def as_dict(self) -> dict:
        return {
            "horizon_seconds": self.horizon,
            "count": self.count,
            "mae": self.abs_error / self.count if self.count else None,
            "mape": self.pct_error / self.pct_count if self.pct_count else None,
        }


@dataclass
class LeagueForecaster:
    """Online ensemble for one league. Feed ``learn_one(t, y)``; read ``forecast(horizon)`` and ``headroom()``."""

    name: ClassVar[str] = "ensemble"
    models: tuple[str, ...] = DEFAULT_MODELS
    error_decay: float = 0.05
    switch_margin: float = 0.05
    headroom_quantile: float = 0.7
    error_window: int = 288
    hour_window: int = 120
    hour_min_count: int = 10
    accuracy_horizons: tuple[float, ...] = (1800.0, 3600.0)
    warmup: int = 4
    candidates: dict[str, Forecaster] = field(default_factory=dict)
    chosen: str = "naive"
    step: float | None = None
    last_t: float | None = None
    samples: int = 0
    last_seen: float | None = None
    history_size: int = 8064
    skipped: int = 0
    outage_factor: float = 4.0
    error_correction: bool = True
    ar_decay: float = 0.01

    # AR(1) adjustment of the chosen model's one-step errors (class defaults: older pickles lack them)
    _ar = 0.0
    _ar_xy = 0.0
    _ar_xx = 0.0
    _last_error: float | None = None
    # (t, abs error of what the policy was told) per scored sample, bounded like ``history``: ``swap_in``
    # compares a refit with the ensemble on the refit's held-out samples (created lazily: older pickles lack it)
    _told: deque[tuple[float, float]] | None = None
    rejected = 0  # samples with a non-finite or negative workload (or time): not learned

    def __post_init__(self) -> None:
        for name in self.models:
            build_model(name, 300.0)  # fail fast on a bad name
        self._naive = LastValue()
        self._errors: dict[str, float] = {}
        self._steps: list[float] = []
        self._rel_errors = stats.RollingQuantile(self.headroom_quantile, window_size=self.error_window)
        # forecast errors differ by time of day (mornings are harder): one quantile per quarter hour, too
        self._hour_errors = [
            stats.RollingQuantile(self.headroom_quantile, window_size=self.hour_window) for _ in range(96)
        ]
        self._hour_counts = [0] * 96
        self._error_count = 0
        self._one_step = HorizonAccuracy(0.0)
        self._accuracy = {h: HorizonAccuracy(h) for h in self.accuracy_horizons}
        # per horizon: (target t, forecast) in target order
        self._pending: dict[float, deque[tuple[float, float]]] = {h: deque() for h in self.accuracy_horizons}
        self._cache: dict[float, dict[str, float]] = {}
        self.history: deque[tuple[float, float]] = deque(maxlen=self.history_size)  # for statsmodels refits
        self._scale = 0.0  # EWMA of the workload: the error scale where forecasts are near zero

    # -- learning -----------------------------------------------------------------------------------
    def learn_one(self, t: float, y: float) -> None:
        """Score every model's forecast for ``t`` against ``y``, then let each learn ``y``.

        A non-finite or negative workload (or a non-finite time) is not learned, only counted in ``rejected``:
        it would poison every model and the error quantiles (river's Rust RollingQuantile panics on NaN).
        """
        try:
            y = float(y)
            if not (0.0 <= y < _INF and -_INF < t < _INF):  # NaN fails every comparison
                raise ValueError(y)
        except (TypeError, ValueError):
            self.rejected += 1
            return
        if self.last_seen is not None and t <= self.last_seen:
            return  # duplicate or out of order: ignore (samples are learned once, in order)
        self.last_seen = t
        if self.last_t is not None:
            gap = t - self.last_t
            if y <= 0.0 and self._is_outage(gap):
                # zero workload where plenty was expected: an outage or a holiday, not the new level;
                # learning (or scoring) it would drag every season down for days.
                self.skipped += 1
                return
            self._score(t, y, gap)
            if self.step is None:
                self._steps.append(gap)
                if len(self._steps) >= self.warmup:
                    self._start_models()
        self._cache = {}
        self._scale = y if self.samples == 0 else self._scale + 0.01 * (y - self._scale)
        self._naive.last_y = y  # LastValue.learn_one
        self.history.append((t, y))
        for model in self.candidates.values():
            model.learn_one(t, y)
        self.last_t = t
        self.samples += 1
        if self._pending:
            self._plan_accuracy(t)

    def forecast_at(self, target_t: float) -> float | None:
        """The forecast for the sample at epoch second ``target_t``."""
        if self.last_t is None:
            return None
        horizon = target_t - self.last_t
        value = self._model_forecasts(horizon).get(self.chosen)  # forecast(horizon), inlined (hot path)
        if value is None:
            return self._naive.last_y
        return self._corrected(value, horizon) if self._ar else value

    def forecast_once_at(self, target_t: float) -> float | None:
        """``forecast_at(target_t)`` computing only the chosen model (for a one-off time: nothing cached)."""
        if self.last_t is None:
            return None
        horizon = target_t - self.last_t
        model = self.candidates.get(self.chosen)
        value = self._model_forecasts(horizon).get(self.chosen) if model is None else model.forecast(horizon)
        if value is None:
            return self._naive.last_y
        return self._corrected(value, horizon) if self._ar else value

    def _corrected(self, value: float, horizon: float) -> float:
        """``value`` plus the AR(1) forecast of the chosen model's error ``horizon`` seconds ahead."""
        if self._last_error is None or self.step is None:
            return value
        steps = round(horizon / self.step)
        value += (self._ar if steps <= 1 else self._ar**steps) * self._last_error
        return value if value > 0.0 else 0.0

    def _is_outage(self, gap: float) -> bool:
        mae = self._errors.get(self.chosen)
        expected = self.forecast(gap)
        return mae is not None and expected is not None and expected > self.outage_factor * mae

    def _start_models(self) -> None:
        # the real step (30 s metrics: 30 s), not one rounded to minutes: a model on a coarser grid keeps one
        # sample per cell and drops the rest, and a clock profile with wider slots learns each slot several times
        # a period (30 s samples of a daily pattern on a 60 s grid: 1-hour-ahead MAE 0.839, on a 30 s grid 0.480)
        self.step = grid_step(statistics.median(self._steps))
        self.candidates = {name: build_model(name, self.step) for name in self.models}

    def _score(self, t: float, y: float, gap: float) -> float | None:
        decay = self.error_decay
        errors = self._errors
        known = errors.get
        forecasts = self._model_forecasts(gap)
        for name, f in forecasts.items():
            previous = known(name)
            err = y - f if y > f else f - y
            errors[name] = err if previous is None else previous + decay * (err - previous)
        chosen_forecast = forecasts.get(self.chosen)
        if chosen_forecast is None:
            chosen_forecast = self._naive.forecast(gap)
        elif self.error_correction:
            raw = chosen_forecast
            if self._ar:
                chosen_forecast = self._corrected(raw, gap)  # what the policy was told
            # AR(1) coefficient of consecutive one-step errors (EWMA least squares, in [0, 0.99]); hot path
            error = y - raw
            previous = self._last_error
            step = self.step
            if previous is not None and step is not None and gap <= 1.5 * step:
                d = self.ar_decay
                self._ar_xy += d * (error * previous - self._ar_xy)
                self._ar_xx += d * (previous * previous - self._ar_xx)
                if self._ar_xx > 0.0:
                    ar = self._ar_xy / self._ar_xx
                    self._ar = 0.0 if ar < 0.0 else (0.99 if ar > 0.99 else ar)
            self._last_error = error
        if chosen_forecast is not None:
            one = self._one_step  # HorizonAccuracy.add, inlined (hot path)
            miss = y - chosen_forecast
            if miss < 0.0:
                miss = -miss
            one.count += 1
            one.abs_error += miss
            told = self._told
            if told is None:
                told = self._told = deque(maxlen=self.history_size)
            told.append((t, miss))
            if y > 0:
                one.pct_count += 1
                one.pct_error += miss / y
            error = (y - chosen_forecast) / (chosen_forecast + self._scale + 1e-12)
            # RollingQuantile.update(error) without its Python wrapper (hot path): the Rust window, and the
            # wrapper's "updated" flag that its get() reads
            quantile = self._rel_errors
            quantile._rolling_quantile.update(error)
            quantile._is_updated = True
            self._error_count += 1
            bucket = int(t % 86400.0 // 900.0)
            quantile = self._hour_errors[bucket]
            quantile._rolling_quantile.update(error)
            quantile._is_updated = True
            self._hour_counts[bucket] += 1
        if errors:  # min(errors, key=errors.__getitem__), inlined: the first of the lowest
            best = None
            lowest = 0.0
            for name, err in errors.items():
                if best is None or err < lowest:
                    best, lowest = name, err
            current = known(self.chosen)
            if current is None or lowest < current * (1.0 - self.switch_margin):
                self.chosen = best
        if self._pending:
            half = gap / 2
            for horizon, pending in self._pending.items():
                while pending and pending[0][0] <= t + half:
                    target, forecast = pending.popleft()
                    if target >= t - half:
                        self._accuracy[horizon].add(forecast, y)
        return chosen_forecast

    def _plan_accuracy(self, t: float) -> None:
        if not self.candidates:
            return
        for horizon in self.accuracy_horizons:
            f = self.forecast(horizon)
            if f is not None:
                self._pending[horizon].append((t + horizon, f))

    # -- answers ------------------------------------------------------------------------------------
    def _model_forecasts(self, horizon: float) -> dict[str, float]:
        """Every ready model's forecast, and their mean (cached until the next sample)."""
        cached = self._cache.get(horizon)
        if cached is not None:
            return cached
        forecasts = {}
        total = 0.0
        for name, model in self.candidates.items():
            f = model.forecast(horizon)
            if f is not None:
                forecasts[name] = f
                total += f
        if len(forecasts) > 1:
            forecasts[MEAN] = total / len(forecasts)
        self._cache[horizon] = forecasts
        return forecasts

    def forecast(self, horizon: float) -> float | None:
        """The chosen model's forecast ``horizon`` seconds after the last learned sample (naive while warming up).

        The chosen model may be ``mean``: the average of every ready model (often better than each).
        """
        value = self._model_forecasts(horizon).get(self.chosen)
        if value is None:
            return self._naive.forecast(horizon)
        return self._corrected(value, horizon) if self._ar else value

    def headroom(self, forecast: float | None, target_t: float | None = None) -> float:
        """Relative headroom for ``forecast``: the recent ``headroom_quantile`` of forecast errors.

        Errors are measured relative to (forecast + mean workload), so near-zero forecasts (nights) do not
        inflate the quantile; the result is relative to ``forecast`` again, and never negative. With a
        ``target_t``, the quantile of that quarter hour of the day is used once it has enough errors.
        """
        if self._error_count < self.hour_min_count or not self._error_count:
            return 0.0  # too few errors for a quantile
        hour = -1 if target_t is None else int(target_t % 86400.0 // 900.0)
        # RollingQuantile.get() without its wrapper (hot path): both windows have had updates here
        if hour >= 0 and self._hour_counts[hour] >= self.hour_min_count and self._hour_counts[hour]:
            q = self._hour_errors[hour]._rolling_quantile.get()
        else:
            q = self._rel_errors._rolling_quantile.get()
        if not q or q <= 0 or not forecast:
            return 0.0
        return q * (forecast + self._scale) / forecast

    def accuracy(self) -> dict:
        """MAE/MAPE of one-step forecasts and per planned horizon, and every model's rolling error."""
        return {
            "model": self.chosen,
            "one_step": self._one_step.as_dict(),
            "horizons": [a.as_dict() for a in self._accuracy.values()],
            "rolling_mae": dict(self._errors),
        }

    def swap_in(
        self,
        model: Forecaster,
        recent_mae: float,
        fitted_until: float,
        holdout: Sequence[tuple[float, float]] | None = None,
    ) -> bool:
        """Adopt a refitted model if it beat the online ensemble on the refit's held-out samples.

        ``holdout``: the refit's (t, abs one-step error) per held-out sample (``RefitResult.holdout``); both
        errors are averaged over the samples both have, which must be at least half of them (else: kept out);
        an adopted model's rolling error starts as the EWMA of its held-out errors, like the other candidates'.
        Without it (older callers), ``recent_mae`` is compared with the chosen model's rolling error (an EWMA
        of about the last 20 samples: not the same samples). The model learned history up to
        ``fitted_until``; it catches up on the samples learned since.
        """
        if holdout:
            common = self.compare_holdout(holdout)
            if common is None:
                return False
            refit_mae, online_mae = common
            if refit_mae >= online_mae:
                return False
            # its rolling error as if it had been a candidate over the held-out samples (the others' is an EWMA
            # of their last samples: a day's mean would not compare with it at the next sample)
            recent_mae = None
            for _, err in holdout:
                recent_mae = err if recent_mae is None else recent_mae + self.error_decay * (err - recent_mae)
        else:
            current = self._errors.get(self.chosen)
            if current is not None and recent_mae >= current:
                return False
        for t, y in self.history:
            if t > fitted_until:
                model.learn_one(t, y)
        self.candidates[model.name] = model
        self._errors[model.name] = recent_mae
        self.chosen = model.name
        self._cache = {}
        self._last_error = None  # the error correction starts again on the new model's errors
        return True

    def compare_holdout(self, holdout: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
        """(refit MAE, online MAE) over the held-out samples the ensemble also scored (None: under half of them)."""
        told = {}
        if self._told:
            first = holdout[0][0]
            for t, miss in reversed(self._told):
                if t < first:
                    break
                told[t] = miss
        pairs = [(err, told[t]) for t, err in holdout if t in told]
        if not pairs or 2 * len(pairs) < len(holdout):
            return None
        return sum(p[0] for p in pairs) / len(pairs), sum(p[1] for p in pairs) / len(pairs)
