"""Run-time switches of the agents, read from the compacted ``feature-flags`` topic (no restart needed).

A flag is set for every league (``flag_id`` = its name) or for one league (``name@LEAGUE``); a league's own
flag wins over the global one. Only the flags below exist, each with the values it may take; the first value
is the default (what the agents do when the flag was never set).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.exceptions import InvalidRecord

SCALING_ACTIONS = "scaling.actions"
TWEETS_ACTIONS = "tweets.actions"
# name -> (allowed values, default first; whether it must name a league)
FLAGS: dict[str, tuple[tuple[str, ...], bool]] = {
    # forecast-only: the scaling step forecasts and records what it would do, and emits no scaling command
    SCALING_ACTIONS: (("on", "forecast-only"), False),
    # off: the games step decides and records as usual (the budget counts the decision), emits no tweet command
    TWEETS_ACTIONS: (("on", "off"), True),
}


def flag_id(name: str, league: str | None) -> str:
    return name if league is None else f"{name}@{league}"


def normalized_value(value: bool | str) -> str:
    """A flag's value as text (``true``/``false`` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flag_problem(name: str, value: bool | str, league: str | None) -> str | None:
    """Why a flag cannot be set (unknown name, value not allowed, a per-league flag without league), or None."""
    spec = FLAGS.get(name)
    if spec is None:
        return f"unknown flag {name!r}; known flags: {', '.join(sorted(FLAGS))}"
    allowed, per_league = spec
    if normalized_value(value) not in allowed:
        return f"flag {name} takes one of {', '.join(allowed)}, not {normalized_value(value)!r}"
    if per_league and league is None:
        return f"flag {name} is set per league account: give its league"
    return None


def validate_flag(record: dict[str, Any]) -> None:
    """Raise ``InvalidRecord`` for a FeatureFlag record an agent must not apply."""
    problem = flag_problem(record["name"], record["value"], record.get("league"))
    if problem is None and record["flag_id"] != flag_id(record["name"], record.get("league")):
        problem = f"flag_id {record['flag_id']!r} does not match name {record['name']!r} and league"
    if problem is not None:
        raise InvalidRecord(f"invalid FeatureFlag: {problem}")


def flag_value(get: Callable[[str], dict[str, Any] | None], name: str, league: str | None) -> str:
    """The value of flag ``name`` for ``league``: its own flag, else the global one, else the default.

    ``get(flag_id)`` looks a FeatureFlag record up (a table's ``get``)."""
    record = (get(flag_id(name, league)) if league is not None else None) or get(name)
    if record is None:
        return FLAGS[name][0][0]
    return normalized_value(record["value"])
