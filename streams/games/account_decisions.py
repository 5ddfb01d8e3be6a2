"""A league account's whole decision state in one record: its day budget and the state of each of its games.

Keeping both in one value makes a table update atomic: after a crash the recovered budget and game states
always belong together, so redelivered plays are recognised and decided exactly as before (a budget that
missed a spend, or a game that missed a tweet, could otherwise change later decisions).
"""

from __future__ import annotations

from typing import Any, TypedDict

from streams.games.play_decisions import Decision, GameDecisionState, decide
from streams.games.tweet_budget import BudgetState, ScheduleIndex


class AccountState(TypedDict):
    """A league account's decision state (JSON-able: the ``account_decisions`` table keeps it as JSON)."""

    budget: BudgetState | None  # None before the account's first play
    games: dict[str, GameDecisionState]  # game_id -> state, the games of the budget's day


def new_account_state() -> AccountState:
    return {"budget": None, "games": {}}


def decide_for_account(
    play: dict[str, Any],
    state: AccountState | None,
    schedule: ScheduleIndex,
    *,
    limit: int,
    tz: str,
) -> tuple[Decision, AccountState]:
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
