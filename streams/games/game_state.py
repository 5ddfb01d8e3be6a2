"""Current state of a game, folded from its plays (pure: plain records in, plain records out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from streams.exceptions import InvalidRecord

LEAGUES = ("NFL", "NBA", "WNBA")
FINAL_EVENT_TYPES = frozenset({"game_end", "final", "end_of_game"})


class GameState(TypedDict):
    """The current state of a game (the ``GameState`` record: the ``games`` table and the ``game-state`` topic)."""

    game_id: str
    league: str  # NFL, NBA or WNBA
    home_team: str
    away_team: str
    home_score: int
    away_score: int
    period: int
    clock_seconds: int
    status: str  # live or final
    last_play_id: str
    last_sequence: int
    plays_seen: int
    updated_at: datetime | str  # the last play's occurred_at (a datetime in records, ISO text in JSON forms)
    possession: str | None
    win_prob_home: float | None
    last_description: str | None


def validate_play(play: dict[str, Any]) -> None:
    """Raise ``InvalidRecord`` with a readable reason if ``play`` breaks a domain rule."""
    problems = []
    if play["league"] not in LEAGUES:
        problems.append(f"league {play['league']!r} is not one of {', '.join(LEAGUES)}")
    if not play["game_id"]:
        problems.append("game_id is empty")
    if not play["play_id"]:
        problems.append("play_id is empty")
    for field in ("home_score", "away_score"):
        if play[field] < 0:
            problems.append(f"{field} {play[field]} is negative")
    if play["period"] < 1:
        problems.append(f"period {play['period']} is below 1")
    if play["clock_seconds"] < 0:
        problems.append(f"clock_seconds {play['clock_seconds']} is negative")
    if play["sequence"] < 0:
        problems.append(f"sequence {play['sequence']} is negative")
    if play["home_team"] == play["away_team"]:
        problems.append(f"home_team and away_team are both {play['home_team']!r}")
    down = play.get("down")
    if down is not None and not 1 <= down <= 4:
        problems.append(f"down {down} is not 1-4")
    yardline = play.get("yardline_100")
    if yardline is not None and not 0 <= yardline <= 100:
        problems.append(f"yardline_100 {yardline} is not 0-100")
    if problems:
        raise InvalidRecord("invalid play: " + "; ".join(problems))


def apply_play(state: GameState | None, play: dict[str, Any]) -> GameState | None:
    """Return the game's new state after ``play``, or ``None`` if the play is already folded in.

    Plays at or below the last applied ``sequence`` are redeliveries (at-least-once) and change nothing.
    """
    if state is not None and play["sequence"] <= state["last_sequence"]:
        return None
    final = play["event_type"] in FINAL_EVENT_TYPES or (state is not None and state["status"] == "final")
    return {
        "game_id": play["game_id"],
        "league": play["league"],
        "home_team": play["home_team"],
        "away_team": play["away_team"],
        "home_score": play["home_score"],
        "away_score": play["away_score"],
        "period": play["period"],
        "clock_seconds": play["clock_seconds"],
        "status": "final" if final else "live",
        "last_play_id": play["play_id"],
        "last_sequence": play["sequence"],
        "plays_seen": (state["plays_seen"] if state else 0) + 1,
        "updated_at": play["occurred_at"],
        "possession": play.get("possession"),
        "win_prob_home": state.get("win_prob_home") if state else None,
        "last_description": play["description"],
    }
