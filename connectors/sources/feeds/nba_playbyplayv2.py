"""stats.nba.com ``playbyplayv2`` JSON: ``resultSets`` with a ``PlayByPlay`` set of ``headers`` and ``rowSet``.

The rows are read as the importer reads the CSV (text, "" for null) and converted by the importer's
:func:`connectors.sources.importers.nba.game_records`. Until a fourth (or later) period ends with the score not
tied the game is live: the last period's end is held back, since it is the game's end only if no period follows.
"""

from __future__ import annotations

import json
from typing import Any

from connectors.exceptions import InputError
from connectors.sources.feeds.base import FeedGame, FeedSnapshot, MalformedFeed
from connectors.sources.importers import nba

REQUIRED_COLUMNS = (
    "GAME_ID",
    "EVENTNUM",
    "EVENTMSGTYPE",
    "PERIOD",
    "WCTIMESTRING",
    "PCTIMESTRING",
    "HOMEDESCRIPTION",
    "NEUTRALDESCRIPTION",
    "VISITORDESCRIPTION",
    "SCORE",
    "PLAYER1_TEAM_ABBREVIATION",
)


def _text(value: Any) -> str:
    """A cell as the CSV has it: "" for null, whole numbers without a decimal point."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def playbyplay_rows(document: Any) -> list[dict[str, str]]:
    """The ``PlayByPlay`` rows of a playbyplayv2 document, each a column-to-text dict."""
    if not isinstance(document, dict) or not isinstance(document.get("resultSets"), list):
        raise MalformedFeed("no resultSets list in the document")
    result = next((r for r in document["resultSets"] if isinstance(r, dict) and r.get("name") == "PlayByPlay"), None)
    if result is None:
        raise MalformedFeed("no PlayByPlay result set in the document")
    headers, row_set = result.get("headers"), result.get("rowSet")
    if not isinstance(headers, list) or not isinstance(row_set, list):
        raise MalformedFeed("the PlayByPlay result set has no headers or rowSet list")
    missing = [c for c in REQUIRED_COLUMNS if c not in headers]
    if missing:
        raise MalformedFeed(f"PlayByPlay lacks column(s) {', '.join(missing)}")
    rows = []
    for number, row in enumerate(row_set, 1):
        if not isinstance(row, list) or len(row) != len(headers):
            raise MalformedFeed(f"PlayByPlay row {number} does not have the {len(headers)} columns of the headers")
        rows.append({h: _text(v) for h, v in zip(headers, row, strict=True)})
    return rows


class NbaPlaybyplayV2Adapter:
    league = "NBA"

    def convert(self, body: bytes, game: FeedGame) -> FeedSnapshot:
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedFeed(f"not JSON ({exc})") from None
        rows = playbyplay_rows(document)
        other = next((r["GAME_ID"] for r in rows if r["GAME_ID"] and r["GAME_ID"] != game.game_id), None)
        if other is not None:
            raise MalformedFeed(f"the document is of game {other}, not {game.game_id}")
        if not rows:
            return FeedSnapshot(None, [], False)
        day = game.scheduled_start.astimezone(nba.EASTERN).date()
        final = nba.is_final(rows)
        try:
            schedule, plays = nba.game_records(rows, game.game_id, day, complete=final)
        except (InputError, KeyError, ValueError) as exc:
            raise MalformedFeed(f"unreadable play data ({exc})") from None
        return FeedSnapshot(schedule, plays, final)
