"""The estimator contract every load forecaster follows, and the time helpers they share.

A forecaster sees samples ``(t, y)`` with ``t`` in epoch seconds (UTC) and ``y`` a workload; samples may
have gaps and any step. ``forecast(horizon)`` predicts ``y`` at ``last_t + horizon`` seconds.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

DAY = 86400.0
WEEK = 7 * DAY
# 1970-01-01 was a Thursday: shift so that a week slot 0 starts on Monday 00:00 UTC
_WEEK_ORIGIN = 4 * DAY


@runtime_checkable
class Forecaster(Protocol):
    """Online forecaster of one series (per league)."""

    name: str

    def learn_one(self, t: float, y: float) -> None:
        """Learn the sample ``y`` observed at epoch second ``t`` (``t`` never decreases)."""

    def forecast(self, horizon: float) -> float | None:
        """Predicted workload ``horizon`` seconds after the last learned sample, or None while warming up."""


def week_position(t: float) -> float:
    """Seconds since Monday 00:00 UTC of the week containing ``t``."""
    return (t - _WEEK_ORIGIN) % WEEK
