"""Checks of the scaling inputs (pure): what a LeagueEvent, ScalingOverride or ScheduledGame must be to be applied."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from streams.exceptions import InvalidRecord

# Bounds of the inputs beyond which a value is a bug of its sender (see ``validate_scaling_input``).
INPUT_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
INPUT_LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_INPUT_MULTIPLIER = 100.0  # a breaking-news surge is a few times the load; 100x would ask for every agent
MAX_INPUT_DURATION_SECONDS = 7 * 86_400  # an event lasts hours; a week-long one is a season, not an event
MAX_INPUT_AGENTS = 100_000
MAX_INPUT_ID_CHARS = 128
MAX_INPUT_TEXT_CHARS = 2000


def validate_scaling_input(name: str, record: dict) -> None:
    """Raise ``InvalidRecord`` if a LeagueEvent, ScalingOverride or ScheduledGame cannot be applied (a NaN,
    infinite or over-100x multiplier, a non-positive or over-a-week duration, negative, crossed or over-100,000
    agent bounds, a timestamp outside 2000..2100, an empty or over-long id or text): bad input goes to dead
    letters, not into the state. Fields a record lacks (older schema versions) are not checked."""
    problems = []

    def text(field: str, limit: int, may_be_empty: bool = False) -> None:
        value = record.get(field)
        if value is None:
            return
        if not value and not may_be_empty:
            problems.append(f"{field} is empty")
        elif len(value) > limit:
            problems.append(f"{field} of {len(value)} characters is over {limit}")

    def instant(field: str) -> None:
        value = record.get(field)
        if value is None:
            return
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
            at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
            inside = INPUT_EARLIEST <= at < INPUT_LATEST
        except (TypeError, ValueError, AttributeError):
            inside = False
        if not inside:
            problems.append(f"{field} {value} is not a timestamp within 2000-01-01..2100-01-01")

    if name == "LeagueEvent":
        multiplier = record.get("multiplier")
        if multiplier is not None and not (
            isinstance(multiplier, int | float) and math.isfinite(multiplier) and 0 < multiplier <= MAX_INPUT_MULTIPLIER
        ):
            problems.append(f"multiplier {multiplier} is not a positive number up to {MAX_INPUT_MULTIPLIER:g}")
        if record["duration_seconds"] <= 0:
            problems.append(f"duration_seconds {record['duration_seconds']} is not positive")
        elif record["duration_seconds"] > MAX_INPUT_DURATION_SECONDS:
            problems.append(f"duration_seconds {record['duration_seconds']} is over {MAX_INPUT_DURATION_SECONDS}")
        text("event_id", MAX_INPUT_ID_CHARS)
        text("kind", MAX_INPUT_ID_CHARS)
        text("description", MAX_INPUT_TEXT_CHARS, may_be_empty=True)
        instant("starts_at")
    elif name == "ScalingOverride":
        low, high = record.get("min_agents"), record.get("max_agents")
        for field, value in (("min_agents", low), ("max_agents", high)):
            if value is not None and value < 0:
                problems.append(f"{field} {value} is negative")
            elif value is not None and value > MAX_INPUT_AGENTS:
                problems.append(f"{field} {value} is over {MAX_INPUT_AGENTS}")
        if low is not None and high is not None and low > high:
            problems.append(f"min_agents {low} is above max_agents {high}")
        text("override_id", MAX_INPUT_ID_CHARS)
        text("reason", MAX_INPUT_TEXT_CHARS, may_be_empty=True)
        text("created_by", MAX_INPUT_ID_CHARS, may_be_empty=True)
        instant("expires_at")
        instant("created_at")
    elif name == "ScheduledGame":  # pre-scaling places it in time (the games step checks the rest of it)
        instant("scheduled_start")
    if problems:
        raise InvalidRecord(f"invalid {name}: " + "; ".join(problems))
