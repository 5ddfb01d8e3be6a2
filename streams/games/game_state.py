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

from datetime import UTC, datetime
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

# Bounds of a valid record. Beyond them a value is a feed bug, and a record inside them can still be decided:
# - timestamps within 2000..2100: the budget places every play in a local day (year 1 has none), and no feed
#   of ours has older games;
# - periods 1-10: regulation is 4 in every league; the NBA's record is six overtimes (period 10), the NFL's
#   playoff record two (regular-season games have at most one), so 10 is generous for all three;
# - the clock within its period: NFL quarters 900 s and overtimes up to 900 (playoffs; 600 in the regular
#   season, which a record does not say), NBA 720/300, WNBA 600/300;
# - scores 0-300: the NBA record for one team is 186, the NFL's 73;
# - sequence 0-1,000,000 (order within a game: a game has a few hundred plays; a huge one would hold back
#   every later play of its game as out of order), ids and teams up to 64 characters, event types 32,
#   descriptions 2,000 (the NFL's longest is under 400): a record stays far below the broker's 1 MB limit.
EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2100, 1, 1, tzinfo=UTC)
REGULATION_PERIODS = 4
MAX_PERIOD = 10
REGULATION_SECONDS = {"NFL": 900, "NBA": 720, "WNBA": 600}
OVERTIME_SECONDS = {"NFL": 900, "NBA": 300, "WNBA": 300}
MAX_SCORE = 300
MAX_SEQUENCE = 1_000_000
MAX_ID_CHARS = 64
MAX_EVENT_TYPE_CHARS = 32
MAX_DESCRIPTION_CHARS = 2000


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
    """Raise ``InvalidRecord`` with a readable reason naming every bound ``play`` breaks (see the bounds above).

    These are the bounds of one record; what only the game can tell (a score going down, a play after the
    final, a play out of order) is judged when the play is decided (``consistency.check_consistency``).
    """
    problems = []
    league = play["league"]
    if league not in LEAGUES:
        problems.append(f"league {league!r} is not one of {', '.join(LEAGUES)}")
    _check_text(play, ("game_id", "play_id", "home_team", "away_team"), MAX_ID_CHARS, problems)
    _check_text(play, ("event_type",), MAX_EVENT_TYPE_CHARS, problems)
    _check_text(play, ("description",), MAX_DESCRIPTION_CHARS, problems, may_be_empty=True)
    possession = play.get("possession")
    if possession is not None and len(possession) > MAX_ID_CHARS:
        problems.append(f"possession of {len(possession)} characters is over {MAX_ID_CHARS}")
    _check_instant(play, "occurred_at", problems)
    for field in ("home_score", "away_score"):
        if not 0 <= play[field] <= MAX_SCORE:
            problems.append(f"{field} {play[field]} is not 0-{MAX_SCORE}")
    period = play["period"]
    if not 1 <= period <= MAX_PERIOD:
        problems.append(f"period {period} is not 1-{MAX_PERIOD}")
    clock, length = play["clock_seconds"], period_seconds(league, period)
    if length is not None and not 0 <= clock <= length:
        problems.append(f"clock_seconds {clock} is not 0-{length} (a {league} period {period})")
    elif clock < 0:
        problems.append(f"clock_seconds {clock} is negative")
    if not 0 <= play["sequence"] <= MAX_SEQUENCE:
        problems.append(f"sequence {play['sequence']} is not 0-{MAX_SEQUENCE}")
    if play["home_team"] == play["away_team"]:
        problems.append(f"home_team and away_team are both {play['home_team']!r}")
    for field, low, high in (("down", 1, 4), ("yards_to_go", 0, 100), ("yardline_100", 0, 100)):
        value = play.get(field)
        if value is not None and not low <= value <= high:
            problems.append(f"{field} {value} is not {low}-{high}")
    if problems:
        raise InvalidRecord("invalid play: " + "; ".join(problems))


def validate_scheduled_game(game: dict[str, Any]) -> None:
    """Raise ``InvalidRecord`` if a ScheduledGame breaks a bound (its start in the window, ids and teams sane)."""
    problems = []
    if game["league"] not in LEAGUES:
        problems.append(f"league {game['league']!r} is not one of {', '.join(LEAGUES)}")
    _check_text(game, ("game_id", "home_team", "away_team"), MAX_ID_CHARS, problems)
    if game["home_team"] == game["away_team"]:
        problems.append(f"home_team and away_team are both {game['home_team']!r}")
    _check_instant(game, "scheduled_start", problems)
    if problems:
        raise InvalidRecord("invalid scheduled game: " + "; ".join(problems))


def period_seconds(league: str, period: int) -> int | None:
    """The length of a period of ``league`` (``None`` for an unknown league)."""
    lengths = OVERTIME_SECONDS if period > REGULATION_PERIODS else REGULATION_SECONDS
    return lengths.get(league)


def to_instant(value: datetime | str) -> datetime:
    """A record's timestamp (a datetime, or ISO-8601 text in JSON forms) as an aware datetime (naive = UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _check_instant(record: dict[str, Any], field: str, problems: list[str]) -> None:
    try:
        instant = to_instant(record[field])
    except (TypeError, ValueError, AttributeError) as exc:
        problems.append(f"{field} {record[field]!r} is not a timestamp: {exc}")
        return
    if not EARLIEST_INSTANT <= instant < LATEST_INSTANT:
        problems.append(f"{field} {record[field]} is not within {EARLIEST_INSTANT:%Y-%m-%d}..{LATEST_INSTANT:%Y-%m-%d}")


def _check_text(
    record: dict[str, Any], fields: tuple[str, ...], limit: int, problems: list[str], *, may_be_empty: bool = False
) -> None:
    for field in fields:
        value = record[field]
        if not value and not may_be_empty:
            problems.append(f"{field} is empty")
        elif len(value) > limit:
            problems.append(f"{field} of {len(value)} characters is over {limit}")


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


def apply_play(state: GameState | None, play: dict[str, Any], *, correction: bool = False) -> GameState | None:
    """Return the game's new state after ``play``, or ``None`` if the play is already folded in.

    Plays at or below the last applied ``sequence`` are redeliveries (at-least-once) and change nothing. The
    status turns final on a ``game_end`` record or when the record shows the end (``final_in_record``; the
    games table has no overtime length, so a tied NFL overtime waits for its ``game_end``).

    A ``correction`` (a play already applied, sent again with changed content) sets the corrected scores; a
    correction of the game's last play also its clock and description. It never changes the status.
    """
    if correction and state is not None:
        corrected: GameState = {**state, "home_score": play["home_score"], "away_score": play["away_score"]}
        if play["play_id"] == state["last_play_id"]:
            corrected.update(
                period=play["period"],
                clock_seconds=play["clock_seconds"],
                possession=play.get("possession"),
                last_description=play["description"],
            )
        return corrected
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
