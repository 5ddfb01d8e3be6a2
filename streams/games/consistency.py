"""What a play is to its game: a new play, a redelivery, a correction, or one the game refuses.

The product rules (the feed contract says a play may come again corrected, e.g. a score overturned):
- a play id already decided with the same content is a redelivery (at-least-once): it changes nothing;
- a play id already decided with changed content is a correction: the game takes its scores (they may go
  down) and a tweet already sent is not sent again (a correction never tweets);
- a new play id must come after the game's last sequence (else "out of order": the feed's order is the
  game's, and deciding it late would judge it against later plays), not after the game's own ``game_end``
  record ("after final": nothing follows a final), and with no score below the game's ("score went down":
  only a correction lowers a score).
"""

from __future__ import annotations

import zlib
from typing import Any

from streams.exceptions import InvalidRecord
from streams.games.game_state import FINAL_EVENT_TYPES
from streams.games.slates import iso

FINAL_EVENT_TYPES_TEXT = "/".join(sorted(FINAL_EVENT_TYPES))


def play_digest(play: dict[str, Any]) -> int:
    """A fingerprint of a play's content (crc32: the same in every process, unlike ``hash``).

    The content is what a correction can change (not the sequence: the same content sent again later is a
    redelivery): ``iso(occurred_at)`` and ``str()`` of period, clock_seconds, home_score, away_score,
    description, event_type, possession, down, yards_to_go and yardline_100, joined by ``|`` (spelt out: it runs
    on every play, and a stored digest must keep its value across versions).
    """
    get = play.get
    text = (
        f"{iso(play['occurred_at'])}|{get('period')}|{get('clock_seconds')}|{get('home_score')}|"
        f"{get('away_score')}|{get('description')}|{get('event_type')}|{get('possession')}|{get('down')}|"
        f"{get('yards_to_go')}|{get('yardline_100')}"
    )
    return zlib.crc32(text.encode())


def check_consistency(play: dict[str, Any], game: dict[str, Any], digest: int) -> str:
    """What ``play`` is to its game (a decision state): ``"redelivery"``, ``"correction"`` or ``"new"``;
    ``InvalidRecord`` if the game refuses it (the module doc has the rules). A state written before play ids
    were kept (no ``seen``) recognises redeliveries by sequence alone."""
    sequence, last = play["sequence"], game["last_sequence"]
    seen = game.get("seen")
    if seen is None:
        return "redelivery" if sequence <= last else "new"
    known = seen.get(play["play_id"])
    if known is not None:
        return "redelivery" if known == digest else "correction"
    if sequence <= last:
        raise InvalidRecord(f"out of order: {_where(play)} has sequence {sequence}, not after the game's last {last}")
    if game.get("closed"):
        raise InvalidRecord(f"after final: {_where(play)} comes after the game's {FINAL_EVENT_TYPES_TEXT} record")
    home, away = game["home_score"], game["away_score"]
    if play["home_score"] < home or play["away_score"] < away:
        raise InvalidRecord(
            f"score went down: {_where(play)} has {play['home_score']}-{play['away_score']} after {home}-{away}"
            " and is not a correction of an earlier play"
        )
    return "new"


def _where(play: dict[str, Any]) -> str:
    return f"play {play['play_id']} of game {play['game_id']}"
