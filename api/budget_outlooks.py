"""The tweet budgets as the API and the console show them: each ``tweet-budgets`` record with its ``outlook``.

The games agent publishes the budget's state (used, the games' positions, the tweets of the rolling window); what
an operator wants to know (the reserve for the games still to come, the rolling 24-hour count, what the next play
must clear, the games the policy is watching) follows from it and the schedule by the budget's own functions
(``streams.games.budget_outlook``). It is computed here, on the read side, once per record: the decision hot path
publishes nothing more, and every reader (``GET /v1/leagues/{league}/budget``, the Today page, its SSE stream) gets
the same figures. The schedule comes from ``league-events`` (its ``ScheduledGame`` records); a game added to a
budget's slate recomputes that budget (its reserve counts the game).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from connectors.auth.tokens import LEAGUES
from streams.games import budget_outlook, tweet_budget
from streams.games.tweet_budget import ScheduleIndex

log = logging.getLogger(__name__)
OUTLOOK = "outlook"  # the field added to a budget record (the rest is the record as published)


class BudgetOutlooks:
    """The schedule the budgets plan with, and the outlook of a budget record."""

    def __init__(self, tz: str, game: Callable[[str], dict[str, Any] | None] = lambda _id: None):
        self.tz = tz
        self.game = game  # a game's latest game-state record (its teams), if the API has one
        self._scheduled: dict[str, dict[str, Any]] = {}  # game_id -> ScheduledGame (JSON form)
        self._index: ScheduleIndex | None = None  # built when a budget needs it after the schedule changed

    def schedule(self) -> ScheduleIndex:
        if self._index is None:
            self._index = ScheduleIndex(self._scheduled.values(), self.tz)
        return self._index

    def with_outlook(self, record: dict[str, Any]) -> dict[str, Any]:
        """The budget record with its outlook (a league account's; any other is kept as it is)."""
        raw = {k: v for k, v in record.items() if k != OUTLOOK}
        league = str(raw.get("account"))  # one account per league, named after it (play_decisions.account_for)
        if league not in LEAGUES:
            return raw
        try:
            outlook = budget_outlook.of_record(raw, league, self.schedule(), self.tz)
        except (KeyError, TypeError, ValueError) as exc:  # a record the read side cannot plan with: shown as it is
            log.warning("no outlook for the budget of %s: %s", league, exc)
            return raw
        for item in outlook["watching"]:
            item["matchup"] = self._matchup(item["game_id"])
        return {**raw, OUTLOOK: outlook}

    def add_game(self, game: dict[str, Any], budgets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Keep a scheduled game; answer the ``budgets`` whose slate it joins (or leaves, moved), recomputed."""
        game_id, league = str(game.get("game_id")), str(game.get("league"))
        previous = self._scheduled.get(game_id)
        if not game.get("scheduled_start") or previous == game:
            return []
        self._scheduled[game_id] = game
        self._index = None
        slates = {self._slate(g) for g in (previous, game) if g is not None} - {None}
        return [self.with_outlook(b) for b in budgets if b.get("account") == league and b.get("day") in slates]

    def _slate(self, game: dict[str, Any]) -> str | None:
        try:
            return tweet_budget.slate_of(game["scheduled_start"], self.tz)
        except (KeyError, TypeError, ValueError):  # a start the budget cannot place: the worker skips it too
            return None

    def _matchup(self, game_id: str) -> str:
        """``away @ home`` from the game's latest state or the schedule; the game's id when neither knows it."""
        game = self.game(game_id) or self._scheduled.get(game_id) or {}
        if game.get("home_team") and game.get("away_team"):
            return f"{game['away_team']} @ {game['home_team']}"
        return game_id
