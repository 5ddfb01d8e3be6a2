"""The games agent's step: plays decided against their league account's day, schedules kept for the budget.

``Play`` -> :func:`decide_for_account` (the code path of ``wirereport backtest plays``) and
``game_state.apply_play``: tables ``games`` (GameState per game) and ``account_decisions`` (budget and game
decision states of each league account, one record so it updates atomically); outputs ``tweet-commands``, and
once per batch ``game-state`` per changed game and ``tweet-budgets`` per changed account. ``ScheduledGame``
(from ``league-events``) -> the ``schedule`` table, once its start is a date the budget can place in a day.

``tweets.actions`` flags (``feature-flags``, forwarded by :func:`flag_target` into ``games-flags``, the partition
of their league's plays) -> the ``tweet_flags`` table, per account. While an account's flag is ``off`` the step
decides and records exactly as when it is on (the budget counts the decision, so turning it back on resumes
the same day), and emits no tweet command.

An account without a budget state (its first play, or a table the broker lost) starts from the tweets the
publisher reports it posted (:class:`PostedTweets`, fed from ``tweet-receipts``), so a lost table never lets an
account tweet past its limit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, TypedDict

from streams.exceptions import InvalidRecord
from streams.games.game_state import apply_play
from streams.games.game_state import validate_scheduled_game as validate_schedule_record
from streams.games.play_decisions import Decision, GameDecisionState, account_for, decide
from streams.games.tweet_budget import (
    WINDOW_SECONDS,
    BudgetState,
    ScheduleIndex,
    epoch,
    local_day,
    new_state,
    seeded,
    slate_of,
)
from streams.games.tweet_budget import to_record as budget_record
from streams.runtime.feature_flags import TWEETS_ACTIONS, validate_flag
from streams.runtime.steps import NO_EFFECTS, Effects, Input, TableView
from streams.topics import topic

# A league account's whole decision state is one record, its day budget and the state of each of its games: a
# table update is then atomic, so after a crash the recovered budget and game states always belong together and
# redelivered plays are recognised and decided exactly as before (a budget that missed a spend, or a game that
# missed a tweet, could otherwise change later decisions). ``wirereport backtest plays`` decides through
# ``decide_for_account`` too.


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


FLAGS_FEED = topic("games-flags")


def flag_target(schema: str, record: dict[str, Any]) -> tuple[bytes, int | None] | None:
    """Where a flag goes on ``games-flags`` (the partition of its league's plays); None for other flags."""
    if record["name"] != TWEETS_ACTIONS:
        return None
    validate_flag(record)
    return record["flag_id"].encode(), FLAGS_FEED.partition_of(record)


log = logging.getLogger(__name__)


def validate_scheduled_game(game: dict[str, Any], tz: str) -> None:
    """Raise ``InvalidRecord`` if the game breaks a bound or the budget cannot place it in a day of ``tz``."""
    validate_schedule_record(game)
    check_day(game, tz)


def check_day(game: dict[str, Any], tz: str) -> None:
    """Raise ``InvalidRecord`` if the budget cannot place the game in a day of ``tz`` (e.g. a start in year 1)."""
    try:
        local_day(game["scheduled_start"], tz)
    except (OverflowError, ValueError) as exc:
        raise InvalidRecord(
            f"invalid scheduled game: scheduled_start {game['scheduled_start']} has no day in {tz}: {exc}"
        ) from exc


def placeable(games: Iterable[dict[str, Any]], tz: str) -> list[dict[str, Any]]:
    """The games whose start has a day in ``tz`` (a table written before validation may hold others)."""
    kept = []
    for game in games:
        try:
            check_day(game, tz)
        except InvalidRecord:
            continue
        kept.append(game)
    return kept


class ScheduleCache:
    """The schedule by league and day, rebuilt only when the ``schedule`` table changed."""

    def __init__(self, tz: str):
        self.tz = tz
        self.version = 0
        self._built_for: tuple[int, int] | None = None
        self._index = ScheduleIndex((), tz)

    def changed(self) -> None:
        self.version += 1

    def index(self, view: TableView) -> ScheduleIndex:
        # the stored size catches what this step did not write (a recovered or reassigned partition)
        built_for = (self.version, len(view.stored["schedule"]))
        if built_for != self._built_for:
            self._index = ScheduleIndex(placeable((game for _, game in view.items("schedule")), self.tz), self.tz)
            self._built_for = built_for
        return self._index


POSTED_STATUSES = frozenset({"posted", "dry_run"})


class PostedTweets:
    """The tweets the publisher reports it posted (TweetReceipts ``posted`` or ``dry_run``): their times per
    account, kept for two windows past the newest (older ones cannot count against the limit any more)."""

    def __init__(self) -> None:
        self._at: dict[str, dict[str, float]] = {}  # account -> command_id -> epoch seconds
        self._pruned_at = float("-inf")

    def add(self, receipt: dict[str, Any]) -> None:
        if receipt["status"] not in POSTED_STATUSES:
            return
        at = epoch(receipt["at"])
        self._at.setdefault(receipt["account"], {})[receipt["command_id"]] = at
        if at > self._pruned_at + WINDOW_SECONDS:  # once a day: forget what can no longer count
            self._pruned_at = at
            horizon = at - 2 * WINDOW_SECONDS
            self._at = {a: {c: t for c, t in times.items() if t > horizon} for a, times in self._at.items()}

    def times(self, account: str) -> list[float]:
        return sorted(self._at.get(account, {}).values())


class GamesStep:
    """See the module docstring."""

    tables = ("games", "account_decisions", "schedule", "tweet_flags")
    scratch = ("latest_play_at",)  # per account, for its budget record's time

    def __init__(self, limit: int, tz: str, posted: PostedTweets | None = None):
        self.limit = limit
        self.tz = tz
        self.schedule = ScheduleCache(tz)
        self.posted = posted

    def apply(self, item: Input, view: TableView) -> Effects:
        schema, play, partition, _ = item
        if schema != "Play":
            return self.flag(item) if schema == "FeatureFlag" else self.league_event(item)
        game_id, account = play["game_id"], account_for(play["league"])
        state = view.get("account_decisions", account)
        if state is None:
            state = self.rebuilt_state(account, play)
        try:
            decision, account_state = decide_for_account(
                play, state, self.schedule.index(view), limit=self.limit, tz=self.tz
            )
        except InvalidRecord as exc:  # the game refuses it (out of order, after its final ...): dead-lettered
            log.warning("games: %s", exc)
            raise
        correction = decision.get("correction", False)
        if correction:
            log.info("games: play %s of game %s corrected", play["play_id"], game_id)
        state = apply_play(view.get("games", game_id), play, correction=correction)
        if state is None:  # a redelivered play the games table already has
            writes = (
                ("account_decisions", account, partition, account_state),
                ("latest_play_at", account, partition, play["occurred_at"]),
            )
        else:
            state["win_prob_home"] = decision["win_prob_home"]
            writes = (
                ("account_decisions", account, partition, account_state),
                ("latest_play_at", account, partition, play["occurred_at"]),
                ("games", game_id, partition, state),
            )
        command = decision["command"]
        if command is None or self.tweets_off(view, account):
            return writes, ()
        return writes, (("tweet-commands", command),)

    @staticmethod
    def tweets_off(view: TableView, account: str) -> bool:
        flag = view.get("tweet_flags", account)
        return flag is not None and flag["value"] == "off"

    def flag(self, item: Input) -> Effects:
        """A ``tweets.actions`` flag of an account (its league's)."""
        validate_flag(item.record)
        return (("tweet_flags", account_for(item.record["league"]), item.partition, item.record),), ()

    def rebuilt_state(self, account: str, play: dict[str, Any]) -> dict[str, Any] | None:
        """An account state whose budget holds what the publisher posted in the 24 hours before ``play`` (None
        when it posted nothing: the account starts fresh)."""
        times = self.posted.times(account) if self.posted is not None else []
        if not times:
            return None
        at = play["occurred_at"]
        budget = seeded(new_state(account, slate_of(at, self.tz), self.limit), times, at, self.tz)
        return {"budget": budget, "games": {}}

    def league_event(self, item: Input) -> Effects:
        """A scheduled game goes to the schedule table; other league events are not the games' concern."""
        if item.schema != "ScheduledGame":
            return NO_EFFECTS
        game = item.record
        validate_scheduled_game(game, self.tz)
        self.schedule.changed()
        return (("schedule", game["game_id"], item.partition, game),), ()

    def finish(self, view: TableView) -> Effects:
        changes = view.changes
        latest_play_at = changes["latest_play_at"]
        outputs = [("game-state", state) for _, state in changes["games"].values()]
        outputs += [
            ("tweet-budgets", budget_record(state["budget"], latest_play_at[account][1]))
            for account, (_, state) in changes["account_decisions"].items()
        ]
        return (), outputs
