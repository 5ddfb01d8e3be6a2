"""NFL GameCenter JSON, as the old live NFL feed served it: ``{"<eid>": {game}, "nextupdate": N}``.

The conversion is the importer's (:func:`connectors.sources.importers.nfl.game_records`). While the game is not
final the document is treated as growing: a play whose record needs the next snap (its clock and situation
after) is held back with the plays after it until the next play or the final document arrives, so the live
records equal the final file's. A game that goes stale keeps its held-back plays unsent.
"""

from __future__ import annotations

import json
from typing import Any

from connectors.sources.feeds.base import FeedGame, FeedSnapshot, MalformedFeed
from connectors.sources.importers import nfl


def _season(game: FeedGame) -> tuple[int, str]:
    """The schedule's season and type; without them (a ScheduledGame file) January and February games are the
    previous season's playoffs."""
    if game.season is not None and game.season_type is not None:
        return game.season, game.season_type
    kickoff = game.scheduled_start.astimezone(nfl.EASTERN)
    if kickoff.month <= 2:
        return kickoff.year - 1, game.season_type or "POST"
    return kickoff.year, game.season_type or "REG"


def _check_shape(document: Any, game_id: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise MalformedFeed(f"expected a JSON object, got {type(document).__name__}")
    body = document.get(game_id)
    if not isinstance(body, dict):
        raise MalformedFeed(f"no game {game_id} in the document (keys: {', '.join(sorted(document)[:5])})")
    drives = body.get("drives") or {}
    if not isinstance(drives, dict):
        raise MalformedFeed("drives is not an object")
    for key, drive in drives.items():
        if not key.isdigit():
            continue
        plays = drive.get("plays") if isinstance(drive, dict) else None
        if not isinstance(plays, dict) or not all(k.isdigit() and isinstance(p, dict) for k, p in plays.items()):
            raise MalformedFeed(f"drive {key} has no plays object keyed by play number")
    return body


class NflGamecenterAdapter:
    league = "NFL"

    def convert(self, body: bytes, game: FeedGame) -> FeedSnapshot:
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedFeed(f"not JSON ({exc})") from None
        data = _check_shape(document, game.game_id)
        for side, team in (("home", game.home_team), ("away", game.away_team)):
            abbr = (data.get(side) or {}).get("abbr") if isinstance(data.get(side), dict) else None
            if abbr and abbr != team:
                raise MalformedFeed(f"{side} team is {abbr}, the schedule says {team}")
        season, season_type = _season(game)
        facts = nfl.GameFacts(game.game_id, game.home_team, game.away_team, season, season_type, game.scheduled_start)
        final = nfl.is_final(data)
        try:
            plays = nfl.game_records(facts, data, complete=final)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedFeed(f"unreadable play data ({exc.__class__.__name__}: {exc})") from None
        return FeedSnapshot(game.scheduled_game(), plays, final)
