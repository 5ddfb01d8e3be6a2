"""Where a candidate's tweets differ from the live pipeline's over the same plays (pure).

A tweet is a TweetCommand; two commands are the same tweet when they have the same ``command_id`` (the hash of
account, game and play). What differs, per account and game:

- moved: the candidate tweets at a play, live at another play of the same game at most ``within`` plays away
  (the same moment, found sooner or later);
- gained: the candidate tweets, live did not (and no live tweet of the game is left to pair within reach);
- lost: live tweeted, the candidate does not (and no candidate tweet of the game is left to pair within reach).

Pairing is greedy in play order: each candidate-only tweet takes the earliest unpaired live-only tweet of its game
within ``within`` plays. On points of a line paired within a distance this pairs as many as any pairing can, and
the result does not depend on the order the commands came in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

KINDS = ("gained", "lost", "moved")


def play_positions(plays: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[int, int]]:
    """(game_id, play_id) -> (index among all plays, index among its game's plays), in decision order."""
    positions: dict[tuple[str, str], tuple[int, int]] = {}
    per_game: dict[str, int] = {}
    for index, play in enumerate(plays):
        key = (play["game_id"], play["play_id"])
        if key in positions:
            continue  # a play given twice is decided twice, but it is one place in its game
        in_game = per_game.get(play["game_id"], 0)
        per_game[play["game_id"]] = in_game + 1
        positions[key] = (index, in_game)
    return positions


def differences(
    plays: Iterable[Mapping[str, Any]],
    candidate: Iterable[Mapping[str, Any]],
    live: Iterable[Mapping[str, Any]],
    within: int = 10,
) -> list[dict[str, Any]]:
    """The differences between two sets of TweetCommands over ``plays``, in play order.

    Each is ``{"kind", "account", "game_id", "play_id", "live_play_id", "text"}``: ``play_id`` is where the
    candidate tweets (None when lost), ``live_play_id`` where live tweeted (None when gained), ``text`` the
    candidate's tweet (live's when lost). Commands of plays not in ``plays`` are not compared; a command given
    twice (redelivered) counts once.
    """
    if within < 0:
        raise ValueError("within must be 0 or more plays")
    positions = play_positions(plays)
    ours = _by_id(candidate, positions)
    theirs = _by_id(live, positions)
    games: dict[tuple[str, str], tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]] = {}
    for command_id, command in ours.items():
        if command_id not in theirs:
            games.setdefault((command["account"], command["game_id"]), ([], []))[0].append(command)
    for command_id, command in theirs.items():
        if command_id not in ours:
            games.setdefault((command["account"], command["game_id"]), ([], []))[1].append(command)
    found: list[tuple[int, int, dict[str, Any]]] = []
    for (account, game_id), (gained, lost) in games.items():
        for kind, ours_at, theirs_at in _pair(gained, lost, positions, within):
            here = ours_at or theirs_at
            found.append(
                (
                    positions[(game_id, here["play_id"])][0],
                    KINDS.index(kind),
                    {
                        "kind": kind,
                        "account": account,
                        "game_id": game_id,
                        "play_id": ours_at["play_id"] if ours_at else None,
                        "live_play_id": theirs_at["play_id"] if theirs_at else None,
                        "text": here["text"],
                    },
                )
            )
    found.sort(key=lambda entry: entry[:2])
    return [entry[2] for entry in found]


def _by_id(commands: Iterable[Mapping[str, Any]], positions: Mapping[tuple[str, str], Any]) -> dict[str, Mapping]:
    return {c["command_id"]: c for c in commands if (c["game_id"], c["play_id"]) in positions}


def _pair(
    ours: list[Mapping[str, Any]],
    theirs: list[Mapping[str, Any]],
    positions: Mapping[tuple[str, str], tuple[int, int]],
    within: int,
) -> list[tuple[str, Mapping[str, Any] | None, Mapping[str, Any] | None]]:
    """(kind, candidate command, live command) of one game's differing tweets."""

    def at(command: Mapping[str, Any]) -> int:
        return positions[(command["game_id"], command["play_id"])][1]

    ours = sorted(ours, key=at)
    theirs = sorted(theirs, key=at)
    out: list[tuple[str, Mapping[str, Any] | None, Mapping[str, Any] | None]] = []
    next_live = 0
    for command in ours:
        # live tweets too early for this candidate tweet are too early for every later one: lost
        while next_live < len(theirs) and at(theirs[next_live]) < at(command) - within:
            out.append(("lost", None, theirs[next_live]))
            next_live += 1
        if next_live < len(theirs) and at(theirs[next_live]) <= at(command) + within:
            out.append(("moved", command, theirs[next_live]))
            next_live += 1
        else:
            out.append(("gained", command, None))
    out.extend(("lost", None, command) for command in theirs[next_live:])
    return out
