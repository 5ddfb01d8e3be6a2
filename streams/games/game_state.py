"""Current state of a game, folded from its plays (pure: plain records in, plain records out).

A game is final when the feed says so (a ``game_end`` record) or when the record shows it (``final_in_record``):

- NFL: the 4th quarter or an overtime period over (its ``period_end``, or a play that leaves 0:00 on the clock
  after one in the last two minutes, no try to come and no penalty that could give an untimed down) with the
  scores apart; a tied 10-minute overtime over (the regular season's, since 2017: it ends tied; a 15-minute one
  may be a playoff game that goes on); a touchdown in overtime (it ends the game, no try follows).
- NBA/WNBA: the ``period_end`` of the 4th or of an overtime period with the scores apart (a foul at the buzzer
  can still bring free throws after a 0:00 play).

The account's budget also ends a game after a staleness timeout (``stale_seconds``: no play of the game for that
long while the account's other games go on, judged on the plays' own ``occurred_at``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from streams.exceptions import InvalidRecord

LEAGUES = ("NFL", "NBA", "WNBA")
FINAL_EVENT_TYPES = frozenset({"game_end", "final", "end_of_game"})
LATE_PHASE = 13  # moment_rates.phase: the last two minutes of the 4th quarter (NFL scale) or overtime
NFL_REGULAR_SEASON_OVERTIME = 600  # seconds; playoff overtime periods are 15 minutes and never end tied
# No play of a game for this long (its occurred_at against the account's later plays of other games) ends it:
# a halftime lasts 13-20 minutes; in the last two minutes and overtime plays come every minute or so, and an
# overtime field goal that ends the game is followed by nothing the record can tell apart from a go-on.
STALE_SECONDS = 30 * 60.0
STALE_LATE_SECONDS = 10 * 60.0


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


def try_pending(play: dict[str, Any], prev_home: int, prev_away: int) -> bool:
    """An NFL touchdown whose try (extra point or two-point attempt) is still to come (never in overtime: a
    touchdown there ends the game)."""
    if play["league"] != "NFL" or play.get("down") is not None or play.get("possession") is None:
        return False
    if play["period"] > 4:
        return False
    yardline = play.get("yardline_100")
    gained = sorted((play["home_score"] - prev_home, play["away_score"] - prev_away))
    return yardline is not None and yardline <= 15 and gained == [0, 6]


def final_in_record(
    play: dict[str, Any],
    prev_home: int,
    prev_away: int,
    *,
    late: bool,
    try_to_come: bool,
    overtime_seconds: int,
) -> bool:
    """Whether the game is over after ``play``: the feed says so, or the record shows it (see the module doc).

    ``late``: the game's previous record left two minutes or less in the 4th quarter or was in overtime;
    ``try_to_come``: a touchdown's try is still to be played; ``overtime_seconds``: the most seconds left seen
    in an overtime period (its length, 0 before one).
    """
    event = play["event_type"]
    if event in FINAL_EVENT_TYPES:
        return True
    period = play["period"]
    if period < 4:
        return False
    apart = play["home_score"] != play["away_score"]
    if play["league"] != "NFL":
        return event == "period_end" and apart
    if period > 4 and max(play["home_score"] - prev_home, play["away_score"] - prev_away) >= 6:
        return True  # an overtime touchdown
    if play["clock_seconds"] != 0:
        return False
    if event != "period_end":
        penalty = "PENALTY" in (play.get("description") or "").upper()
        if not late or try_to_come or penalty or event in ("timeout", "period_start"):
            return False
    return apart or (period > 4 and overtime_seconds <= NFL_REGULAR_SEASON_OVERTIME)


def stale_seconds(phase: int) -> float:
    """How long a game may go without a play before it is taken as over (``phase``: ``moment_rates.phase``)."""
    return STALE_LATE_SECONDS if phase >= LATE_PHASE else STALE_SECONDS


def apply_play(state: GameState | None, play: dict[str, Any]) -> GameState | None:
    """Return the game's new state after ``play``, or ``None`` if the play is already folded in.

    Plays at or below the last applied ``sequence`` are redeliveries (at-least-once) and change nothing. The
    status turns final on a ``game_end`` record or when the record shows the end (``final_in_record``; the
    games table has no overtime length, so a tied NFL overtime waits for its ``game_end``).
    """
    if state is not None and play["sequence"] <= state["last_sequence"]:
        return None
    final = state is not None and state["status"] == "final"
    if not final:
        prev_home, prev_away = (state["home_score"], state["away_score"]) if state else (0, 0)
        late = state is not None and state["period"] >= 4 and (state["period"] > 4 or state["clock_seconds"] <= 120)
        final = final_in_record(
            play,
            prev_home,
            prev_away,
            late=late,
            try_to_come=try_pending(play, prev_home, prev_away),
            overtime_seconds=NFL_REGULAR_SEASON_OVERTIME + 1,
        )
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
