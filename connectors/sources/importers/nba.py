"""NBA importer: a stats.nba.com play-by-play CSV (as in the statsnba-playbyplay sdist) to Play JSON lines.

``SCORE`` reads "away - home" and is only set on scoring events; it is carried forward. ``occurred_at`` is the
game date plus the wall-clock time of each event (``WCTIMESTRING``, US Eastern), kept strictly increasing.

:func:`game_records` converts rows (the CSV's, or a live ``playbyplayv2`` document's as strings) of a whole game
or of one still growing; for a growing one it returns only the records no later row can change.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.exceptions import InputError

EASTERN = ZoneInfo("America/New_York")
# The sdist's sample game (0020901030, Charlotte at Miami, 2009-10 season) carries no date; this is an estimate.
KNOWN_DATES = {"0020901030": date(2010, 3, 12)}
EVENT_TYPES = {"12": "period_start", "13": "period_end", "9": "timeout"}


MONTHS = {
    m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)
}


def _score(text: str) -> tuple[int, int]:
    """(away, home) from "away - home"; spreadsheet-mangled forms like "2-May" (2-5) or "Apr-13" are undone."""
    left, _, right = text.partition("-")
    try:
        return tuple(MONTHS[p.strip()] if p.strip() in MONTHS else int(p) for p in (left, right))  # type: ignore[return-value]
    except ValueError:
        raise InputError(f"unreadable score {text!r}") from None


def _clock(text: str) -> int:
    minutes, _, seconds = text.partition(":")
    return int(minutes or 0) * 60 + int(seconds or 0)


def _wall_clock(day: date, text: str) -> datetime | None:
    try:
        t = datetime.strptime(text.strip(), "%I:%M %p")
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, t.hour, t.minute, tzinfo=EASTERN).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def import_game_dir(game_dir: str | Path, game_date: date | None = None) -> tuple[dict[str, Any], list[dict]]:
    """(ScheduledGame, Play records) of the game whose ``playbyplay_<id>.csv`` is in ``game_dir``."""
    folder = Path(game_dir)
    files = sorted(folder.glob("playbyplay_*.csv"))
    if not files:
        raise InputError(f"{folder}: no playbyplay_<game id>.csv in this folder")
    with open(files[0], newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise InputError(f"{files[0]}: no rows")
    game_id = files[0].stem.split("_", 1)[1]
    day = game_date or KNOWN_DATES.get(game_id)
    if day is None:
        raise InputError(f"game {game_id}: the CSV has no date; pass --date")
    schedule, plays = game_records(rows, game_id, day, source=str(files[0]))
    assert schedule is not None  # a complete game either has its teams or raised
    return schedule, plays


def is_final(rows: list[dict[str, str]]) -> bool:
    """Whether the rows so far end the game: a period from the fourth on ended with the score not tied."""
    if not rows or rows[-1]["EVENTMSGTYPE"] != "13" or int(rows[-1]["PERIOD"]) < 4:
        return False
    last_score = next((r["SCORE"] for r in reversed(rows) if r["SCORE"]), "")
    if not last_score:
        return False
    away, home = _score(last_score)
    return away != home


def game_records(
    rows: list[dict[str, str]], game_id: str, day: date, *, complete: bool = True, source: str | None = None
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(ScheduledGame, Play records) of a game's play-by-play rows (column name to text, "" when empty).

    ``complete`` False means the rows are a live game's so far: until both teams and a wall-clock time have
    shown up nothing is known (None, []); the last period's end is held back, as it is the game's end only if
    no period follows. The records returned are then exactly those of the whole game for the same rows.
    """
    home = next(
        (r["PLAYER1_TEAM_ABBREVIATION"] for r in rows if r["HOMEDESCRIPTION"] and r["PLAYER1_TEAM_ABBREVIATION"]), ""
    )
    away = next(
        (r["PLAYER1_TEAM_ABBREVIATION"] for r in rows if r["VISITORDESCRIPTION"] and r["PLAYER1_TEAM_ABBREVIATION"]), ""
    )
    first_wall = next((w for r in rows if (w := _wall_clock(day, r["WCTIMESTRING"]))), None)
    if not complete and (not home or not away or first_wall is None):
        return None, []
    if not home or not away:
        raise InputError(f"{source or f'game {game_id}'}: cannot tell the home and away teams apart")
    start = first_wall or datetime(day.year, day.month, day.day, 19, 30, tzinfo=EASTERN).astimezone(UTC)
    plays = []
    home_score = away_score = 0
    last_time = start - timedelta(seconds=1)
    last_period = max(int(r["PERIOD"]) for r in rows)
    for sequence, row in enumerate(rows, 1):  # the feed's order (EVENTNUM is not always chronological)
        period = int(row["PERIOD"])
        if not complete and row["EVENTMSGTYPE"] == "13" and period == last_period:
            break  # the end of the game or of a period: the next row (or none) tells
        if row["SCORE"]:
            new_away, new_home = _score(row["SCORE"])
        else:
            new_home, new_away = home_score, away_score
        scored = (new_home, new_away) != (home_score, away_score)
        home_score, away_score = new_home, new_away
        etype = "score" if scored else EVENT_TYPES.get(row["EVENTMSGTYPE"], "play")
        if etype == "period_end" and period == last_period:
            etype = "game_end"
        wall = _wall_clock(day, row["WCTIMESTRING"]) or last_time
        at = max(wall, last_time + timedelta(seconds=1))
        last_time = at
        description = " ".join(
            d.strip() for d in (row["HOMEDESCRIPTION"], row["NEUTRALDESCRIPTION"], row["VISITORDESCRIPTION"]) if d
        )
        plays.append(
            {
                "league": "NBA",
                "game_id": game_id,
                "play_id": row["EVENTNUM"],
                "sequence": sequence,
                "occurred_at": _iso(at),
                "period": period,
                "clock_seconds": _clock(row["PCTIMESTRING"]),
                "home_team": home,
                "away_team": away,
                "home_score": home_score,
                "away_score": away_score,
                "description": description or ("Start of period" if etype == "period_start" else "End of period"),
                "event_type": etype,
                "possession": None,
                "down": None,
                "yards_to_go": None,
                "yardline_100": None,
            }
        )
    schedule = {
        "league": "NBA",
        "game_id": game_id,
        "home_team": home,
        "away_team": away,
        "scheduled_start": _iso(start),
    }
    return schedule, plays
