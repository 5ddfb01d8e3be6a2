"""Clock-indexed seasonal models: Holt-Winters whose season is a time-of-day or time-of-week profile.

Indexing the season by clock time (not by sample count) makes them indifferent to gaps and irregular
steps: a sample updates the profile slot its timestamp falls in, and a forecast reads the slot of the
target time. Level is multiplicative (``y ≈ level x profile[slot]``) and safe with zero workloads.
"""

from __future__ import annotations

from streams.scaling.forecasting.base import DAY, WEEK


class SeasonalProfile:
    """``y ≈ level x P[slot]``: ``P`` an EWMA of de-levelled samples per slot, ``level`` an EWMA of ratios."""

    _memo_t: float | None = None  # the last time whose slot was computed, and that slot
    _memo_slot = 0

    def __init__(self, period: float = WEEK, slot_seconds: float = 300.0, alpha: float = 0.3, gamma: float = 0.3):
        if period not in (DAY, WEEK):
            raise ValueError("period must be one day or one week (in seconds)")
        self.name = "profile_weekly" if period == WEEK else "profile_daily"
        self.period = period
        self.slot_seconds = float(slot_seconds)
        self.alpha = alpha
        self.gamma = gamma
        self.level = 1.0
        self.profile: dict[int, float] = {}
        self.last_t: float | None = None
        self.last_y: float | None = None
        self._origin = 4 * DAY if period == WEEK else 0.0  # weeks start on Monday 00:00 UTC

    def _slot(self, t: float) -> int:
        if t == self._memo_t:  # the sample learned is usually the one just forecast
            return self._memo_slot
        slot = int((t - self._origin) % self.period // self.slot_seconds)
        self._memo_t, self._memo_slot = t, slot
        return slot

    def learn_one(self, t: float, y: float) -> None:
        slot = self._memo_slot if t == self._memo_t else self._slot(t)  # _slot(t), its memo inlined (hot path)
        p = self.profile.get(slot)
        if p is None:
            self.profile[slot] = y / self.level
        else:
            if p > 1e-9:
                ratio = y / p
                ratio = 0.2 if ratio < 0.2 else (5.0 if ratio > 5.0 else ratio)
                self.level += self.alpha * (ratio - self.level)
            self.profile[slot] = p + self.gamma * (y / self.level - p)
        self.last_t, self.last_y = t, y

    def forecast(self, horizon: float) -> float | None:
        if self.last_t is None:
            return None
        t = self.last_t + horizon
        slot = int((t - self._origin) % self.period // self.slot_seconds)
        self._memo_t, self._memo_slot = t, slot
        p = self.profile.get(slot)
        if p is None:
            return None
        value = self.level * p
        return value if value > 0.0 else 0.0


class LastValue:
    """The naive forecast (the last sample); the fallback while seasonal models warm up."""

    name = "naive"

    def __init__(self) -> None:
        self.last_y: float | None = None

    def learn_one(self, t: float, y: float) -> None:
        self.last_y = y

    def forecast(self, horizon: float) -> float | None:
        return self.last_y
