"""The daily tweet budget of a league account (pure, JSON-able state in and out).

17 tweets per account per America/New_York calendar day (configurable). The budget spends a tweet on a moment
of value ``v`` only when ``v`` beats the expected value of the moment that tweet would crowd out later, from
what the day's unfinished games are expected to still hold: early, only outstanding moments pass; as games
end, the bar drops. Games not yet started come from the schedule (ScheduledGame records), so a quiet afternoon
keeps reserve for the night game, and a game going to overtime brings its own expected moments (phase 15 of
``moment_rates``' table).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from streams import moment_rates, team_ratings

# The bar a moment must clear is the expected value of the moment a tweet spent now would crowd out later:
# E[(tweets left)-th best value still to come], with the counts of moments above each value taken as Poisson
# with the table's expected count scaled by a factor. A loose budget pays to hold back for better moments, a
# tight one to spend: the factor goes from 1.0 at 6 a day to 1.7 at 17 (measured on the NFL seasons
# 2013-2017; 2018 validates, 2019 is held out).
SPEND_FACTOR_TIGHT = (6, 1.0)
SPEND_FACTOR_LOOSE = (17, 1.7)
# A tweet is never spent on a moment worth less than this (value ~ P(the moment decides the game)): early
# touchdowns and mid-game swings on a quiet one-game day used the tweets a late go-ahead score needed. Chosen
# on 2018 (decisive moments caught at 17/day: 0.06 -> 92.5%, 0.2 -> 93.4%, 0.3 -> 94.3%, 0.4 -> 86.8%).
SPEND_FLOOR = 0.3


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


def new_state(account: str, day: str, limit: int, ratings: dict[str, Any] | None = None) -> dict[str, Any]:
    """A fresh day. ``ratings`` (team Elo ratings of the account's league) default to the shipped ones."""
    return {
        "account": account,
        "day": day,
        "limit": limit,
        "used": 0,
        "tweeted": [],
        "games": {},
        "ratings": ratings if ratings is not None else team_ratings.initial(account),
    }


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
    return {**new_state(account, day, limit, state["ratings"]), "games": carried}


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


def expected_curve(
    state: dict[str, Any], league: str, schedule: ScheduleIndex | None, table: dict[str, Any]
) -> list[float]:
    """Expected moments still to come today at or above each level of ``moment_rates.VALUE_GRID``."""
    rows = [table["table"][ph][cl] for ph, cl, final in state["games"].values() if not final]
    if schedule is not None:
        games = state["games"]
        rows.extend(table["pregame"] for gid in schedule.games_on(league, state["day"]) if gid not in games)
    return [sum(col) for col in zip(*rows, strict=True)] if rows else [0.0] * len(moment_rates.VALUE_GRID)


def spend_threshold(curve: list[float], left: int, factor: float) -> float:
    """E[value of the ``left``-th best moment still to come]: what spending a tweet now would crowd out."""
    grid = moment_rates.VALUE_GRID
    bar = poisson_at_least(left, factor * curve[0]) * grid[0]
    for k in range(len(grid) - 1):
        bar += poisson_at_least(left, factor * curve[k + 1]) * (grid[k + 1] - grid[k])
    return bar


def poisson_at_least(k: int, mean: float) -> float:
    """P(N >= k) for N ~ Poisson(mean)."""
    if mean <= 0:
        return 0.0 if k > 0 else 1.0
    term = math.exp(-mean)
    below = 0.0
    for i in range(k):
        below += term
        term *= mean / (i + 1)
    return max(0.0, 1.0 - below)


def spend_factor(limit: int) -> float:
    (lo, f_lo), (hi, f_hi) = SPEND_FACTOR_TIGHT, SPEND_FACTOR_LOOSE
    share = min(max((limit - lo) / (hi - lo), 0.0), 1.0)
    return f_lo + (f_hi - f_lo) * share


def should_spend(state: dict[str, Any], value: float, curve: list[float]) -> bool:
    """Spend a tweet on a moment of ``value`` if it beats what the tweet would crowd out later."""
    left = state["limit"] - state["used"]
    if left < 1 or value < SPEND_FLOOR:
        return False
    return value >= spend_threshold(curve, left, spend_factor(state["limit"]))


def spend(state: dict[str, Any], game_id: str, play_id: str) -> dict[str, Any]:
    return {**state, "used": state["used"] + 1, "tweeted": [*state["tweeted"], [game_id, play_id]]}


def already_tweeted(state: dict[str, Any], game_id: str, play_id: str) -> bool:
    return any(g == game_id and p == play_id for g, p in state["tweeted"])


def to_record(state: dict[str, Any], updated_at: Any = None) -> dict[str, Any]:
    """The TweetBudget record (Avro) of a budget state."""
    return {
        "account": state["account"],
        "day": state["day"],
        "limit": state["limit"],
        "used": state["used"],
        "tweeted": [f"{g}/{p}" for g, p in state["tweeted"]],
        "games": [
            {"game_id": gid, "phase": ph, "closeness": cl, "final": bool(final)}
            for gid, (ph, cl, final) in state["games"].items()
        ],
        "updated_at": to_datetime(updated_at) if updated_at is not None else None,
        "ratings_season": state["ratings"]["season"],
        "ratings": [{"team": t, "rating": r} for t, r in sorted(state["ratings"]["ratings"].items())],
    }


def from_record(record: dict[str, Any]) -> dict[str, Any]:
    """The budget state of a TweetBudget record."""
    return {
        "account": record["account"],
        "day": record["day"],
        "limit": record["limit"],
        "used": record["used"],
        "tweeted": [t.split("/", 1) for t in record["tweeted"]],
        "games": {g["game_id"]: [g["phase"], g["closeness"], g["final"]] for g in record["games"]},
        "ratings": {"season": record["ratings_season"], "ratings": {r["team"]: r["rating"] for r in record["ratings"]}},
    }
