"""The deployment targets' league check (pure): servers of another league never, unknown ones only if allowed."""

from __future__ import annotations

from streams.deployments.safety import check_targets

SERVERS = {"nfl-1": "NFL", "nba-1": "NBA", "nba-2": "NBA", "wnba-1": "WNBA"}


def test_targets_of_the_league_pass():
    verdict = check_targets("NBA", ["nba-1", "nba-2"], SERVERS, allow_unknown=False)
    assert verdict.allowed and verdict.reason == "every target is a NBA server"


def test_a_server_of_another_league_is_refused_even_when_unknown_ones_are_allowed():
    verdict = check_targets("NBA", ["nba-1", "nfl-1", "wnba-1"], SERVERS, allow_unknown=True)
    assert (verdict.allowed, verdict.code) == (False, "targets")
    assert verdict.reason == "blocked: not NBA servers: nfl-1, wnba-1"


def test_unknown_servers_are_refused_unless_allowed():
    verdict = check_targets("NBA", ["nba-1", "nba-9"], SERVERS, allow_unknown=False)
    assert not verdict.allowed and verdict.reason == "blocked: unknown servers: nba-9"
    assert check_targets("NBA", ["nba-9"], SERVERS, allow_unknown=True).allowed
