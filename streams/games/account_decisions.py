"""A league account's whole decision state in one record: its day budget and the state of each of its games.

Keeping both in one value makes a table update atomic: after a crash the recovered budget and game states
always belong together, so redelivered plays are recognised and decided exactly as before (a budget that
missed a spend, or a game that missed a tweet, could otherwise change later decisions).
"""

from __future__ import annotations

from typing import Any

from streams.games.play_decisions import decide
from streams.games.tweet_budget import ScheduleIndex


def new_account_state() -> dict[str, Any]:
    return {"budget": None, "games": {}}


def decide_for_account(
    play: dict[str, Any],
    state: dict[str, Any] | None,
    schedule: ScheduleIndex,
    *,
    limit: int,
    tz: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``play_decisions.decide`` on the account's state; returns ``(decision, new account state)``.

    When the budget moves to a new day, the states of games that are not carried into it are dropped, so
    the record holds one day's games.
    """
    state = state or new_account_state()
    game_id = play["game_id"]
    decision, game, budget = decide(play, state["games"].get(game_id), state["budget"], schedule, limit=limit, tz=tz)
    games = {**state["games"], game_id: game}
    previous = state["budget"]
    if previous is not None and budget["day"] != previous["day"]:
        games = {gid: g for gid, g in games.items() if gid == game_id or gid in budget["games"]}
    return decision, {"budget": budget, "games": games}
