"""river's online forecasters, wrapped for irregular timestamps and with their seeding bugs fixed.

river's ``HoltWinters`` and ``SNARIMAX`` index seasons by sample count, so each wrapper puts samples on
a regular grid (``step`` seconds) and fills gaps with the model's own forecast (a neutral update: the
season rotates, level and season values are unchanged). Problems found on real data (bank_calls) and
handled here:

- ``HoltWinters`` seeds additive seasons with ratios ``y / level`` instead of differences ``y - level``
  (forecasts off by the level for a whole season): we seed the components ourselves.
- its trend is seeded with the mean first difference of the first season, which is a seasonal swing,
  not a trend: we use no trend (``beta=0``) for seasonal load.
- the multiplicative variant divides by season values that are 0 for a zero workload (night): not used.
- additive seasons without a trend crash (``AdditiveSeason.update`` reads ``trend[-2]`` of ``None``):
  we give the model a constant zero trend instead.
- forecasts are unbounded below: clipped at 0 (a workload is never negative); and SNARIMAX's recursive
  multi-step forecasts diverge after a gap of a few hours (570 for a series around 10): forecasts are
  capped at 3x the recent peak; where they still reach inf/NaN (over an overnight gap on bank_calls) the
  model starts afresh, and a non-finite forecast is no forecast.
"""

from __future__ import annotations

import itertools
import math
import statistics
from abc import ABC, abstractmethod
from collections import deque

from river import time_series

from streams.scaling.forecasting.base import DAY


class _ZeroTrend(deque):
    """A trend component that stays 0 (river's additive season needs one to exist)."""

    def __init__(self) -> None:
        super().__init__([0.0, 0.0], maxlen=2)

    def update(self, y: float, level: deque) -> None:
        return None

    def __reduce__(self):
        return self.__class__, ()


class _GridModel(ABC):
    """Feeds a sample-indexed river forecaster on a regular grid of ``step`` seconds."""

    name = "grid"

    def __init__(self, step: float, season_length: int):
        self.step = float(step)
        self.season_length = season_length
        self.last_t: float | None = None
        self._last_index: int | None = None
        self._seed: list[float] = []
        self._ready = False
        self._peak = 0.0  # slowly decaying maximum of the samples (caps runaway forecasts)

    def _index(self, t: float) -> int:
        return math.floor(t / self.step + 0.5)

    def learn_one(self, t: float, y: float) -> None:
        peak = self._peak * 0.9995
        self._peak = y if y > peak else peak
        index = math.floor(t / self.step + 0.5)  # self._index(t), inlined (hot path)
        if self._last_index is not None and index <= self._last_index:  # same grid cell: keep the last value
            self.last_t = t
            return
        missing = 0 if self._last_index is None else index - self._last_index - 1
        if self._ready:
            if missing:
                # a gap: neutral updates with the model's own forecasts (a whole season is a no-op rotation)
                self._impute(missing % self.season_length if self._rotates else min(missing, self.season_length))
            self._learn(y)
        else:
            if self._seed and missing:
                self._seed.extend([self._seed[-1]] * min(missing, self.season_length))
            self._seed.append(y)
            if len(self._seed) >= self.season_length:
                self._initialize(self._seed[-self.season_length :])
                self._seed = []
                self._ready = True
        self._last_index = index
        self.last_t = t

    def forecast(self, horizon: float) -> float | None:
        if not self._ready or self.last_t is None:
            return None
        steps = round(horizon / self.step)
        if steps < 1:
            steps = 1
        elif steps > self.season_length:
            steps = self.season_length
        value = self._predict_at(steps)
        if value <= 0.0:
            return 0.0
        cap = 3.0 * self._peak
        return cap if value > cap else value

    def _predict_at(self, steps: int) -> float:
        return self._predict(steps)[-1]

    _rotates = True

    def _impute(self, steps: int) -> None:
        for _ in range(steps):
            self._learn(self._predict_at(1))

    @abstractmethod
    def _initialize(self, first: list[float]) -> None:
        """Implemented by each wrapped river model."""

    @abstractmethod
    def _learn(self, y: float) -> None:
        """Implemented by each wrapped river model."""

    @abstractmethod
    def _predict(self, steps: int) -> list[float]:
        """Implemented by each wrapped river model."""


class RiverHoltWinters(_GridModel):
    """Additive Holt-Winters (``river.time_series.HoltWinters``) with correct seeding, on a clock grid."""

    def __init__(self, step: float = 300.0, period: float = DAY, alpha: float = 0.2, gamma: float = 0.2):
        super().__init__(step, max(2, round(period / step)))
        self.name = "hw_daily" if period <= DAY else "hw_weekly"
        self.model = time_series.HoltWinters(
            alpha=alpha, beta=0.0, gamma=gamma, seasonality=self.season_length, multiplicative=False
        )

    def _initialize(self, first: list[float]) -> None:
        mean = statistics.fmean(first)
        self.model.trend = _ZeroTrend()
        self.model.level.append(mean)
        self.model.season.extend([y - mean for y in first])
        self.model._initialized = True

    def learn_one(self, t: float, y: float) -> None:
        # the next grid cell of a seeded model (nearly every sample): ``_GridModel.learn_one`` and ``_learn``
        # inlined, the same expressions in the same order; anything else takes the general path
        last = self._last_index
        if self._ready and last is not None:
            index = math.floor(t / self.step + 0.5)
            if index == last + 1:
                peak = self._peak * 0.9995
                self._peak = y if y > peak else peak
                model = self.model
                level, season = model.level, model.season
                alpha, gamma, m = level.alpha, season.gamma, season.seasonality
                # trend[-1] and trend[-2] of _ZeroTrend are always 0.0
                level.append(alpha * (y - season[-m]) + (1 - alpha) * (level[-1] + 0.0))
                season.append(gamma * (y - level[-2] - 0.0) + (1 - gamma) * season[-m])
                self._last_index = index
                self.last_t = t
                return
        super().learn_one(t, y)

    def _learn(self, y: float) -> None:
        # river's HoltWinters.learn_one for an additive season and our zero trend, inlined (the hot path of
        # the backtest): level, then season from the previous level; the same expressions, in the same order
        # (a test asserts identical states)
        model = self.model
        level, trend, season = model.level, model.trend, model.season
        alpha, gamma, m = level.alpha, season.gamma, season.seasonality
        level.append(alpha * (y - season[-m]) + (1 - alpha) * (level[-1] + trend[-1]))
        season.append(gamma * (y - level[-2] - trend[-2]) + (1 - gamma) * season[-m])

    def forecast(self, horizon: float) -> float | None:
        if not self._ready:  # (a ready model has learned a sample: last_t is set)
            return None
        steps = round(horizon / self.step)
        m = self.season_length
        if steps < 1:
            steps = 1
        elif steps > m:
            steps = m
        model = self.model
        value = model.level[-1] + model.season[-m + (steps - 1) % m]
        if value <= 0.0:
            return 0.0
        cap = 3.0 * self._peak
        return cap if value > cap else value

    def _impute(self, steps: int) -> None:
        # learning its own one-step forecast leaves the level as it is and re-appends season[-m]: a rotation
        level, season, m = self.model.level, self.model.season, self.season_length
        if steps <= 0:
            return
        level.extend([level[-1]] * min(steps, 2))
        if len(season) == m + 1 and steps <= m:
            # k appends of season[-m] on a full deque (m + 1 values s0..sm) give s_k..s_m, s_1..s_k: in one go
            season.extend(list(itertools.islice(season, 1, steps + 1)))
        else:
            for _ in range(steps):
                season.append(season[-m])

    def _predict(self, steps: int) -> list[float]:
        return self.model.forecast(horizon=steps)

    def _predict_at(self, steps: int) -> float:
        # river's forecast(h) builds all h values; this is its h-th value (level + season), computed alone
        m = self.season_length
        return self.model.level[-1] + self.model.season[-m + (steps - 1) % m]


class RiverSNARIMAX(_GridModel):
    """``river.time_series.SNARIMAX`` (seasonal, online) on a clock grid; slower, optional."""

    _rotates = False

    def __init__(self, step: float = 300.0, period: float = DAY, p: int = 2, q: int = 1, sp: int = 1, sd: int = 1):
        super().__init__(step, max(2, round(period / step)))
        self.name = "snarimax"
        self._orders = {"p": p, "d": 0, "q": q, "m": self.season_length, "sp": sp, "sd": sd, "sq": 0}
        self.model = time_series.SNARIMAX(**self._orders)
        self.restarts = 0

    def _initialize(self, first: list[float]) -> None:
        for y in first:
            self.model.learn_one(y)

    def _learn(self, y: float) -> None:
        self.model.learn_one(y)

    def _impute(self, steps: int) -> None:
        # its own forecasts over an overnight gap can run away to inf/NaN (bank_calls, sample 1014), which
        # would poison its regressors for good: start afresh instead (the ensemble's rolling error copes)
        for _ in range(steps):
            value = self._predict_at(1)
            if not math.isfinite(value) or abs(value) > 1e6 * (self._peak + 1.0):
                self.model = time_series.SNARIMAX(**self._orders)
                self.restarts += 1
                return
            self._learn(value)

    def forecast(self, horizon: float) -> float | None:
        value = super().forecast(horizon)
        return value if value is None or math.isfinite(value) else None

    def _predict(self, steps: int) -> list[float]:
        return self.model.forecast(horizon=steps)
