"""An account's post limit as X counts it: at most ``max_posts`` in any rolling window (24 hours by default).

Pure: the caller supplies the account's post times (epoch seconds) and the current time. A post at ``now`` is
allowed when fewer than ``max_posts`` earlier posts lie in ``(now - window, now]``; a post exactly one window
old no longer counts. Posts stamped after ``now`` (a clock that stepped back) count too, so a clock step never
lets an account exceed. With that rule no half-open window ``[t, t + window)`` ever holds more than
``max_posts`` allowed posts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class RollingLimit:
    """At most ``max_posts`` posts in any ``window_seconds``."""

    max_posts: int = 17
    window_seconds: float = DAY_SECONDS

    def __post_init__(self) -> None:
        if self.max_posts < 0:
            raise ValueError(f"max_posts must be >= 0, not {self.max_posts}")
        if self.window_seconds <= 0:
            raise ValueError(f"window_seconds must be > 0, not {self.window_seconds}")

    def counted(self, post_times: Iterable[float], now: float) -> list[float]:
        """The posts that still count against the limit at ``now``, oldest first."""
        start = now - self.window_seconds
        return sorted(t for t in post_times if t > start)

    def remaining(self, post_times: Iterable[float], now: float) -> int:
        """How many more posts are allowed at ``now``."""
        return max(0, self.max_posts - len(self.counted(post_times, now)))

    def may_post(self, post_times: Iterable[float], now: float) -> bool:
        return self.remaining(post_times, now) > 0

    def next_allowed_at(self, post_times: Iterable[float], now: float) -> float:
        """The earliest time at or after ``now`` when a post is allowed (``now`` if it is allowed now)."""
        counted = self.counted(post_times, now)
        if len(counted) < self.max_posts:
            return now
        if self.max_posts == 0:
            return float("inf")
        # enough of the oldest posts must leave the window to bring the count below max_posts
        return counted[len(counted) - self.max_posts] + self.window_seconds
