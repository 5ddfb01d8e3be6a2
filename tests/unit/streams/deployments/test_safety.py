"""Deployment safety: live games block unless forced; deploy windows (days, overnight, time zones, DST)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.deployments.safety import InvalidDeployWindow, check_safety, parse_windows

NY_DAYTIME = parse_windows("Mon-Sun 09:00-17:00 America/New_York")
MONDAY_NOON_NY = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 12:00 EST


def game(game_id: str, league: str, status: str) -> dict:
    return {"game_id": game_id, "league": league, "status": status, "home_team": "BOS", "away_team": "LAL"}


def test_live_game_of_the_league_blocks():
    verdict = check_safety(league="NBA", live_games=[game("g1", "NBA", "live")], now=MONDAY_NOON_NY, windows=NY_DAYTIME)
    assert not verdict.allowed
    assert verdict.code == "live:g1"
    assert "g1 (LAL at BOS)" in verdict.reason


def test_other_leagues_and_finished_games_do_not_block():
    games = [game("g1", "NFL", "live"), game("g2", "NBA", "final"), game("g3", "NBA", "scheduled")]
    verdict = check_safety(league="NBA", live_games=games, now=MONDAY_NOON_NY, windows=NY_DAYTIME)
    assert verdict.allowed and verdict.code is None


def test_unknown_league_is_blocked_by_any_live_game():
    verdict = check_safety(league=None, live_games=[game("g1", "WNBA", "live")], now=MONDAY_NOON_NY, windows=())
    assert not verdict.allowed


def test_force_overrides_live_game_and_window():
    night = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 22:00 EST
    verdict = check_safety(
        league="NBA", live_games=[game("g1", "NBA", "live")], now=night, windows=NY_DAYTIME, force=True
    )
    assert verdict.allowed
    assert verdict.reason.startswith("forced despite:")
    assert "live" in verdict.reason and "outside deploy windows" in verdict.reason


def test_outside_window_blocks_with_next_opening():
    night = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Monday 22:00 EST
    verdict = check_safety(league="NBA", live_games=[], now=night, windows=NY_DAYTIME)
    assert not verdict.allowed
    assert verdict.code == "window"
    assert "next opens 2026-11-24T09:00:00-05:00" in verdict.reason


def test_both_problems_are_reported():
    night = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    verdict = check_safety(league="NBA", live_games=[game("g9", "NBA", "live")], now=night, windows=NY_DAYTIME)
    assert verdict.code == "live:g9+window"


@pytest.mark.parametrize(
    ("spec", "when", "inside"),
    [
        ("Mon-Fri 09:00-17:00 UTC", datetime(2026, 11, 23, 9, 0, tzinfo=UTC), True),  # Monday, start inclusive
        ("Mon-Fri 09:00-17:00 UTC", datetime(2026, 11, 23, 17, 0, tzinfo=UTC), False),  # end exclusive
        ("Mon-Fri 09:00-17:00 UTC", datetime(2026, 11, 28, 12, 0, tzinfo=UTC), False),  # Saturday
        ("Sat,Sun 10:00-12:00 UTC", datetime(2026, 11, 28, 11, 0, tzinfo=UTC), True),
        ("Fri 22:00-02:00 UTC", datetime(2026, 11, 28, 1, 30, tzinfo=UTC), True),  # Saturday 01:30, Friday's window
        ("Fri 22:00-02:00 UTC", datetime(2026, 11, 29, 1, 30, tzinfo=UTC), False),  # Sunday 01:30
        ("Fri-Mon 00:00-24:00 UTC", datetime(2026, 11, 30, 23, 59, tzinfo=UTC), True),  # wrapping day range
        ("Fri-Mon 00:00-24:00 UTC", datetime(2026, 11, 25, 12, 0, tzinfo=UTC), False),  # Wednesday
        # daylight saving: 09:00 New York is 13:00 UTC in July, 14:00 UTC in November
        ("Mon-Sun 09:00-17:00 America/New_York", datetime(2026, 7, 6, 13, 30, tzinfo=UTC), True),
        ("Mon-Sun 09:00-17:00 America/New_York", datetime(2026, 11, 23, 13, 30, tzinfo=UTC), False),
    ],
)
def test_window_membership(spec, when, inside):
    (window,) = parse_windows(spec)
    assert window.contains(when) is inside


def test_several_windows_and_always():
    windows = parse_windows("Mon 09:00-10:00 UTC; Tue 09:00-10:00 UTC")
    assert len(windows) == 2
    assert parse_windows("") == () and parse_windows("always") == ()
    assert check_safety(league="NFL", live_games=[], now=MONDAY_NOON_NY, windows=()).allowed


@pytest.mark.parametrize(
    "spec",
    [
        "Mon-Fri 9-17 UTC",
        "Funday 09:00-10:00 UTC",
        "Mon 25:00-26:00 UTC",
        "Mon 09:00-10:00 Mars/Base",
        "Mon 09:00-09:00 UTC",
    ],
)
def test_bad_windows_are_rejected_with_a_clear_error(spec):
    with pytest.raises(InvalidDeployWindow, match=r"deploy window|time zone|day"):
        parse_windows(spec)
