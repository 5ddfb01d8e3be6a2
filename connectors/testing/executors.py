"""A scaling executor that only records what it was asked (for testing code that drives a ``Scaler``)."""

from __future__ import annotations


class RecordingExecutor:
    """Records each ``scale(league, agents)`` call in ``calls``; knows no current count (reconciling skips it)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def scale(self, league: str, agents: int) -> None:
        self.calls.append((league, agents))

    def current(self, league: str) -> int | None:
        return None

    def close(self) -> None:
        pass
