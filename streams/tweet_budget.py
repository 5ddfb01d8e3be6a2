"""The daily tweet budget of a league account (pure, JSON-able state in and out).

17 tweets per account per America/New_York calendar day (configurable). The budget spends a tweet on a moment
of value ``v`` only when the day's unfinished games are expected to hold fewer moments at least as valuable as
``v`` than the tweets left: early, only outstanding moments pass; as games end, the bar drops. Games not yet
started come from the schedule (ScheduledGame records), so a quiet afternoon keeps reserve for the night game,
and a game going to overtime brings its own expected moments (phase 12 of the table).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from streams import moment_rates

SPEND_FACTOR = 1.0  # spend when expected better moments <= (tweets left - 1) * factor + slack
SPEND_SLACK = 0.5


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_datetime(value: Any) -> datetime:
    """A timestamp from a record (aware datetime) or its JSON form (ISO-8601 text)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@cache
def _local_day_of_iso(text: str, tz: str) -> str:
    return to_datetime(text).astimezone(zone(tz)).date().isoformat()


def local_day(value: Any, tz: str = "America/New_York") -> str:
    """The calendar day (ISO date) of a timestamp in the account's time zone."""
    if isinstance(value, str):
        return _local_day_of_iso(value[:13] if value.endswith("Z") else value, tz)
    return to_datetime(value).astimezone(zone(tz)).date().isoformat()


class ScheduleIndex:
    """The schedule by (league, local day): which games an account's day holds."""

    def __init__(self, schedule: Iterable[dict[str, Any]] = (), tz: str = "America/New_York") -> None:
        self.tz = tz
        self.by_day: dict[tuple[str, str], tuple[str, ...]] = {}
        days: dict[tuple[str, str], list[str]] = {}
        for game in schedule:
            key = (str(game["league"]), local_day(game["scheduled_start"], tz))
            days.setdefault(key, []).append(str(game["game_id"]))
        self.by_day = {key: tuple(ids) for key, ids in days.items()}

    def games_on(self, league: str, day: str) -> tuple[str, ...]:
        return self.by_day.get((league, day), ())


def new_state(account: str, day: str, limit: int) -> dict[str, Any]:
    return {"account": account, "day": day, "limit": limit, "used": 0, "tweeted": [], "games": {}}


def for_day(state: dict[str, Any] | None, account: str, day: str, limit: int) -> dict[str, Any]:
    """The account's state for ``day``: a new day starts with a full budget (live games are carried over)."""
    if state is None:
        return new_state(account, day, limit)
    if state["day"] == day:
        if state["limit"] != limit:
            state = {**state, "limit": limit}
        return state
    if day < state["day"]:  # a late play of the previous day: keep counting on the current day
        return state
    carried = {gid: pos for gid, pos in state["games"].items() if not pos[2]}
    return {**new_state(account, day, limit), "games": carried}


def with_game_position(state: dict[str, Any], game_id: str, position: list) -> dict[str, Any]:
    """State with a game's [phase, closeness, final] updated (the same object if nothing changed)."""
    if state["games"].get(game_id) == position:
        return state
    return {**state, "games": {**state["games"], game_id: position}}


def expected_better_moments(
    state: dict[str, Any], league: str, value: float, schedule: ScheduleIndex | None, table: dict[str, Any]
) -> float:
    """Expected moments of value >= ``value`` still to come today, over live and not-yet-started games."""
    total = 0.0
    for ph, cl, final in state["games"].values():
        if not final:
            total += moment_rates.expected_moments(table, ph, cl, value)
    if schedule is not None:
        games = state["games"]
        for game_id in schedule.games_on(league, state["day"]):
            if game_id not in games:
                total += moment_rates.expected_moments(table, None, 0, value)
    return total


def should_spend(state: dict[str, Any], expected_better: float) -> bool:
    """Spend a tweet now if the budget still has room for the better moments expected later."""
    left = state["limit"] - state["used"]
    return left >= 1 and expected_better <= (left - 1) * SPEND_FACTOR + SPEND_SLACK


def spend(state: dict[str, Any], game_id: str, play_id: str) -> dict[str, Any]:
    return {**state, "used": state["used"] + 1, "tweeted": [*state["tweeted"], [game_id, play_id]]}


def already_tweeted(state: dict[str, Any], game_id: str, play_id: str) -> bool:
    return any(g == game_id and p == play_id for g, p in state["tweeted"])
