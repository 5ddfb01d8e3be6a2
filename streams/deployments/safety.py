"""Deployment safety rules (pure): no deployment during a live game of the league, only inside deploy windows.

Deploy windows are written as ``DAYS HH:MM-HH:MM TZ`` entries separated by ``;``, e.g.
``"Mon-Fri 09:00-17:00 America/New_York; Sat 10:00-12:00 UTC"``. ``DAYS`` is a day, a range (``Mon-Fri``,
``Fri-Mon`` wraps) or a comma list (``Sat,Sun``). A window whose end is before its start runs past midnight
and belongs to the day it starts on. An empty string means "always open".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.exceptions import StreamsError

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WINDOW = re.compile(r"^(?P<days>[A-Za-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})\s+(?P<tz>\S+)$")


class InvalidDeployWindow(StreamsError):
    """A deploy window specification cannot be parsed."""


@dataclass(frozen=True)
class DeployWindow:
    """One weekly window: the weekdays it starts on (0 = Monday), start and end minute of day, time zone."""

    days: frozenset[int]
    start_minute: int
    end_minute: int  # may be <= start_minute: the window runs past midnight (1440 = 24:00)
    tz: str
    text: str

    def _starts(self, now: datetime) -> list[datetime]:
        """Window openings (aware datetimes) from two days before ``now`` to eight days after."""
        zone = ZoneInfo(self.tz)
        local_day = now.astimezone(zone).date()
        out = []
        for offset in range(-2, 9):
            day = local_day + timedelta(days=offset)
            if day.weekday() in self.days:
                out.append(datetime.combine(day, time(0), zone) + timedelta(minutes=self.start_minute))
        return out

    def _length(self) -> timedelta:
        minutes = self.end_minute - self.start_minute
        return timedelta(minutes=minutes if minutes > 0 else minutes + 1440)

    def contains(self, now: datetime) -> bool:
        return any(start <= now < start + self._length() for start in self._starts(now))

    def next_opening(self, now: datetime) -> datetime | None:
        return min((s for s in self._starts(now) if s > now), default=None)


def _minute(text: str, spec: str) -> int:
    hours, minutes = (int(x) for x in text.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise InvalidDeployWindow(f"bad time {text!r} in deploy window {spec!r}")
    return hours * 60 + minutes


def _day(name: str, spec: str) -> int:
    try:
        return DAYS.index(name[:3].capitalize())
    except ValueError:
        raise InvalidDeployWindow(f"bad day {name!r} in deploy window {spec!r} (use Mon..Sun)") from None


def _days(text: str, spec: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            first, last = (_day(x, spec) for x in part.split("-", 1))
            days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
        else:
            days.add(_day(part, spec))
    return frozenset(days)


def parse_windows(spec: str) -> tuple[DeployWindow, ...]:
    """Parse ``"Mon-Fri 09:00-17:00 America/New_York; ..."``; empty or ``always`` means no restriction."""
    windows = []
    for raw in spec.split(";"):
        text = " ".join(raw.split())
        if not text or text.lower() == "always":
            continue
        match = _WINDOW.match(text)
        if not match:
            raise InvalidDeployWindow(f"cannot parse deploy window {text!r} (expected e.g. 'Mon-Fri 09:00-17:00 UTC')")
        try:
            ZoneInfo(match["tz"])
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidDeployWindow(f"unknown time zone {match['tz']!r} in deploy window {text!r}") from None
        start, end = _minute(match["start"], text), _minute(match["end"], text)
        if start == end:
            raise InvalidDeployWindow(f"empty deploy window {text!r}")
        windows.append(DeployWindow(_days(match["days"], text), start, end, match["tz"], text))
    return tuple(windows)


@dataclass(frozen=True)
class SafetyVerdict:
    """Whether a deployment may proceed now; ``code`` is a stable machine form of the block (None if allowed)."""

    allowed: bool
    code: str | None
    reason: str


def live_games_of(league: str | None, games: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The games (GameState records) of ``league`` that are live; every live game if the league is unknown."""
    return sorted(
        (g for g in games if g.get("status") == "live" and (league is None or g.get("league") == league)),
        key=lambda g: str(g["game_id"]),
    )


def check_safety(
    *,
    league: str | None,
    live_games: Iterable[Mapping[str, Any]],
    now: datetime,
    windows: tuple[DeployWindow, ...],
    force: bool = False,
) -> SafetyVerdict:
    """Decide whether a deployment to ``league``'s servers may start at ``now``.

    ``live_games`` are GameState records (any league, any status: only live ones of ``league`` count).
    ``force`` overrides both rules (the reason says so).
    """
    live = live_games_of(league, live_games)
    window_open = not windows or any(w.contains(now) for w in windows)
    problems = []
    if live:
        names = ", ".join(f"{g['game_id']} ({g.get('away_team', '?')} at {g.get('home_team', '?')})" for g in live)
        problems.append((f"live:{','.join(str(g['game_id']) for g in live)}", f"{league or 'a'} game live: {names}"))
    if not window_open:
        opening = min((o for w in windows if (o := w.next_opening(now)) is not None), default=None)
        nxt = f"; next opens {opening.isoformat()}" if opening else ""
        problems.append(("window", f"outside deploy windows ({'; '.join(w.text for w in windows)}){nxt}"))
    if not problems:
        where = "inside deploy window" if windows else "no deploy window configured"
        return SafetyVerdict(True, None, f"no live {league or ''} game; {where}".replace("  ", " "))
    reason = "; ".join(text for _, text in problems)
    if force:
        return SafetyVerdict(True, None, f"forced despite: {reason}")
    return SafetyVerdict(False, "+".join(code for code, _ in problems), f"blocked: {reason}")


def check_targets(
    league: str | None, targets: Iterable[str], server_leagues: Mapping[str, str | None], *, allow_unknown: bool
) -> SafetyVerdict:
    """Whether every target is a server of ``league``; ``server_leagues`` maps the known servers to their league.

    A known server of another league is always refused; a server nobody has heard of is refused unless
    ``allow_unknown`` (a credential bound to a league must not reach a server it cannot see).
    """
    if league is None:
        return SafetyVerdict(True, None, "no league given: targets not checked")
    targets = list(targets)
    foreign = [t for t in targets if t in server_leagues and server_leagues[t] != league]
    unknown = [] if allow_unknown else [t for t in targets if t not in server_leagues]
    problems = []
    if foreign:
        problems.append(f"not {league} servers: {', '.join(foreign)}")
    if unknown:
        problems.append(f"unknown servers: {', '.join(unknown)}")
    if problems:
        return SafetyVerdict(False, "targets", f"blocked: {'; '.join(problems)}")
    return SafetyVerdict(True, None, f"every target is a {league} server")
