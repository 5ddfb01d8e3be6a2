"""One play in, one decision out: the state machine shared by the game agent and ``wirereport backtest plays``.

``decide(play, game_state, budget_state, schedule)`` returns ``(decision, new_game_state, new_budget_state)``;
the states are JSON-able dicts (the agent keeps game states keyed by game_id, budget states keyed by account).
It is pure and strictly online: a decision uses only this play, the states built from earlier plays, and
the schedule (known in advance). A game ends on its ``game_end`` record, when the record shows the end
(``final_in_record``) or after a staleness timeout judged on the account's later plays of other games
(``end_stale_games``): either way it stops holding reserve and moves the teams' ratings once. Redelivered
plays (a play id already decided, with the same content) and plays already tweeted never tweet again; a play
sent again with changed content is a correction, and a game refuses a new play out of order, after its final
or with a score going down (``consistency.check_consistency`` has the rules). One tweet per moment (no second tweet within
``MOMENT_PLAYS`` plays of the game's last one unless the situation changed, nor the same style again within
``SAME_STYLE_SECONDS``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from streams.games import confirmations, moment_rates, team_ratings, tweet_budget, tweet_text
from streams.games.consistency import check_consistency, play_digest
from streams.games.game_state import (
    FINAL_EVENT_TYPES,
    LATE_PHASE,
    STALE_LATE_SECONDS,
    final_in_record,
    stale_seconds,
    try_pending,
)
from streams.games.significance import leader, score_play
from streams.games.slates import iso
from streams.games.tweet_budget import BudgetState, ScheduleIndex
from streams.games.win_probability import win_prob_home
from streams.games.win_probability.nfl import win_prob_home as nfl_win_prob_home

MOMENT_PLAYS = 3  # a moment spans the play and the next 3 plays of its game
SAME_STYLE_SECONDS = 180.0


class PendingTouchdown(TypedDict):
    """The situation before an NFL touchdown whose try is still to come (the try is judged against it)."""

    home_score: int
    away_score: int
    win_prob_home: float
    description: str  # the touchdown's, told when the try is tweeted


class GameDecisionState(TypedDict):
    """A game's decision state (JSON-able; one per game in the account's state, see ``steps.AccountState``)."""

    game_id: str
    league: str
    home_score: int
    away_score: int
    win_prob_home: float
    last_sequence: int  # -1 before the first play
    plays_seen: int
    last_tweet_play: str | None
    last_tweet_index: int | None  # plays_seen when the game last tweeted
    last_tweet_value: float
    last_tweet_style: str | None
    last_tweet_at: str | None  # ISO text
    tweeted: list[str]  # play ids
    # states written before these keys existed lack them (read with defaults)
    strength: NotRequired[float]  # pre-game Elo difference / 100
    rated: NotRequired[bool]  # the final score has moved the teams' ratings
    ended: NotRequired[bool]  # the feed or the record has shown the game over
    overtime_seconds: NotRequired[int]  # the most seconds left seen in an overtime period (its length)
    last_tweet_leader: NotRequired[str | None]  # home, away or None (tied)
    pending: NotRequired[PendingTouchdown | None]
    # play_id -> play_digest of each play decided (a state without it predates corrections: by sequence only)
    seen: NotRequired[dict[str, int]]
    closed: NotRequired[bool]  # the feed's own game_end record has come: a new play after it is refused


class TweetCommand(TypedDict):
    """The ``TweetCommand`` record a tweeted play sends to the publisher."""

    command_id: str  # deterministic: account, game and play
    account: str
    league: str
    game_id: str
    play_id: str
    text: str
    style: str
    urgency: str
    significance: float
    win_prob_home: float
    occurred_at: datetime | str  # the play's


class Decision(TypedDict):
    """What ``decide`` made of one play (the backtest's output fields plus the command and ``decisive``)."""

    game_id: str
    play_id: str
    win_prob_home: float  # rounded to 6 places
    significance: float
    tweet: bool
    urgency: str
    style: str
    text: str | None
    command: TweetCommand | None
    decisive: float  # the play's probability of being a decisive moment (for the evaluation)
    correction: NotRequired[bool]  # the play corrected one already decided (it never tweets)


def account_for(league: str) -> str:
    """The account that tweets about a league (one account per league)."""
    return league


def command_id(account: str, game_id: str, play_id: str) -> str:
    """Deterministic id of the tweet command caused by a play."""
    return hashlib.sha256(f"{account}|{game_id}|{play_id}".encode()).hexdigest()[:32]


def pregame_win_prob(play: dict[str, Any], strength: float = 0.0) -> float:
    """Home win probability before the first play (home edge and team strength)."""
    start = {
        **play,
        "period": 1,
        "clock_seconds": moment_rates.PERIOD_SECONDS[play["league"]],
        "home_score": 0,
        "away_score": 0,
        "possession": None,
        "down": None,
        "yards_to_go": None,
        "yardline_100": None,
        "event_type": "period_start",
    }
    return win_prob_home(start, strength)


def new_game_state(play: dict[str, Any], strength: float = 0.0) -> GameDecisionState:
    """A game's decision state before its first play (``strength``: pre-game Elo difference / 100)."""
    return {
        "game_id": play["game_id"],
        "league": play["league"],
        "strength": strength,
        "rated": False,
        "ended": False,
        "overtime_seconds": 0,
        "home_score": 0,
        "away_score": 0,
        "win_prob_home": pregame_win_prob(play, strength),
        "last_sequence": -1,
        "plays_seen": 0,
        "last_tweet_play": None,
        "last_tweet_index": None,
        "last_tweet_value": 0.0,
        "last_tweet_style": None,
        "last_tweet_at": None,
        "last_tweet_leader": None,
        "tweeted": [],
        "pending": None,
        "seen": {},
        "closed": False,
    }


def assess(play: dict[str, Any], game: GameDecisionState) -> tuple[float, dict[str, Any], PendingTouchdown | None]:
    """(home win probability, significance, pending touchdown) of a play given its game's state.

    A touchdown whose try is still to come is judged together with the try: its significance waits (it is
    not a candidate) and the next play is scored against the situation before the touchdown.
    """
    pending = game.get("pending")
    if pending:
        base_home, base_away, base_wp = pending["home_score"], pending["away_score"], pending["win_prob_home"]
    else:
        base_home, base_away, base_wp = game["home_score"], game["away_score"], game["win_prob_home"]
    strength = game.get("strength", 0.0)
    wp = nfl_win_prob_home(play, None, strength) if play["league"] == "NFL" else win_prob_home(play, strength)
    sig = score_play(play, base_home, base_away, base_wp, wp)
    new_pending: PendingTouchdown | None = None
    prev_home, prev_away = game["home_score"], game["away_score"]
    scored = play["home_score"] != prev_home or play["away_score"] != prev_away
    if scored and try_pending(play, prev_home, prev_away):
        sig["should_tweet"] = False
        new_pending = pending or {
            "home_score": base_home,
            "away_score": base_away,
            "win_prob_home": base_wp,
            "description": play.get("description") or "",
        }
    return wp, sig, new_pending


def end_stale_games(budget: BudgetState, game_id: str, at: float) -> BudgetState:
    """The budget with the account's games that have had no play for ``stale_seconds`` before ``at``
    (epoch seconds of a play of ``game_id``) taken as over: they stop holding reserve; one last seen in its last
    two minutes or overtime also moves the ratings with its last score (an earlier one's result is unknown).

    A stale game that plays again is live again (its next play sets its position); its ratings stay moved once.
    """
    live = budget.get("live")
    if not live:
        return budget
    games = budget["games"]
    for gid, seen in live.items():
        # the first test is the shortest staleness: most games had a play minutes ago and stop here
        if seen is None or at - seen[0] < STALE_LATE_SECONDS or gid == game_id:
            continue
        position = games.get(gid)
        if position is None or position[2] or at - seen[0] < stale_seconds(position[0]):
            continue
        budget = {**budget, "games": {**budget["games"], gid: [position[0], position[1], True]}}
        if position[0] >= LATE_PHASE:
            _, home, away, home_score, away_score, _ = seen
            ratings = team_ratings.update(budget["ratings"], home, away, home_score, away_score)
            budget = {**budget, "ratings": ratings, "live": {**budget["live"], gid: None}}
    return budget


def _seconds_between(earlier: str | None, later: Any) -> float:
    if earlier is None:
        return float("inf")
    return (tweet_budget.to_datetime(later) - tweet_budget.to_datetime(earlier)).total_seconds()


def same_moment(game: GameDecisionState, sig: dict[str, Any], play: dict[str, Any]) -> bool:
    """True when ``play`` belongs to a moment (or a situation) the game already tweeted about.

    Within ``MOMENT_PLAYS`` plays of the last tweet only a new situation (another leader, or a tie turned
    into a lead) that is at least as valuable passes; with the same leader as the last tweet, the same style
    never repeats within SAME_STYLE_SECONDS (no "tied again" three times in a minute). In basketball a late
    go-ahead or equalizer is always a moment of its own: the lead can turn on every possession of a close
    ending, and each turn may be the one that decides the game.
    """
    if game["last_tweet_index"] is None:
        return False
    if sig.get("decisive", 0.0) > 0 and play.get("league", "NFL") != "NFL":
        return False  # a late basketball go-ahead or equalizer turns the lead: its own moment, however soon
    if game["plays_seen"] - game["last_tweet_index"] < MOMENT_PLAYS:
        new_situation = leader(play["home_score"], play["away_score"]) != game.get("last_tweet_leader")
        if not (new_situation and sig["value"] >= game["last_tweet_value"]):
            return True
    if leader(play["home_score"], play["away_score"]) != game.get("last_tweet_leader"):
        return False  # another leader (or a tie turned into a lead) is a new situation, whatever the style
    recent = _seconds_between(game["last_tweet_at"], play["occurred_at"]) < SAME_STYLE_SECONDS
    return recent and sig["style"] == game["last_tweet_style"]


def mark_tweeted(game: GameDecisionState, sig: dict[str, Any], play: dict[str, Any]) -> None:
    """Record in ``game`` (a new state being built, ``plays_seen`` already counted) a tweet about ``play``."""
    game.update(
        last_tweet_play=play["play_id"],
        last_tweet_index=game["plays_seen"],
        last_tweet_value=sig["value"],
        last_tweet_style=sig["style"],
        last_tweet_at=iso(play["occurred_at"]),
        last_tweet_leader=leader(play["home_score"], play["away_score"]),
        tweeted=[*game["tweeted"], play["play_id"]],
    )


def correct(play: dict[str, Any], game: GameDecisionState, digest: int) -> tuple[Decision, GameDecisionState]:
    """A correction's decision (never a tweet) and the game state with its scores."""
    corrected: GameDecisionState = {
        **game,
        "home_score": play["home_score"],
        "away_score": play["away_score"],
        "last_sequence": max(game["last_sequence"], play["sequence"]),
        "seen": {**game["seen"], play["play_id"]: digest},
    }
    decision = _decision(play, game["win_prob_home"], 0.0, False, "low", "update", None)
    decision["correction"] = True
    return decision, corrected


def decide(
    play: dict[str, Any],
    game_state: GameDecisionState | None,
    budget_state: BudgetState | None,
    schedule: ScheduleIndex | list[dict[str, Any]] | None = None,
    *,
    limit: int = 17,
    tz: str = "America/New_York",
) -> tuple[Decision, GameDecisionState, BudgetState]:
    """Decide whether ``play`` is tweeted; returns (decision, new game state, new budget state).

    ``decision`` has the backtest's fields (game_id, play_id, win_prob_home, significance, tweet, urgency,
    style, text) plus ``command`` (a TweetCommand record, or None) and ``decisive`` (the play's probability of
    being a decisive moment, for the evaluation).
    """
    if schedule is not None and not isinstance(schedule, ScheduleIndex):
        schedule = ScheduleIndex(schedule, tz)
    league, game_id, play_id = play["league"], play["game_id"], play["play_id"]
    account = account_for(league)
    slate = tweet_budget.slate_of(play["occurred_at"], tz)
    if budget_state is not None and budget_state["day"] == slate and budget_state["limit"] == limit:
        budget = budget_state  # the common case: the same slate, nothing to renew
    else:
        budget = tweet_budget.for_slate(budget_state, account, slate, limit)
    if game_state is None:
        ratings = team_ratings.for_season(budget["ratings"], team_ratings.season_of(league, slate))
        if ratings is not budget["ratings"]:
            budget = {**budget, "ratings": ratings}
        game = new_game_state(play, team_ratings.difference(ratings, play["home_team"], play["away_team"]))
    else:
        game = game_state

    digest = play_digest(play)
    kind = check_consistency(play, game, digest)
    if kind == "redelivery":  # already decided
        decision = _decision(play, game["win_prob_home"], 0.0, False, "low", "update", None)
        return decision, game, budget
    if kind == "correction":
        decision, game = correct(play, game, digest)
        return decision, game, budget

    at = tweet_budget.epoch(play["occurred_at"])
    budget = end_stale_games(budget, game_id, at)
    wp, sig, pending = assess(play, game)
    period, clock = play["period"], play["clock_seconds"]
    overtime_seconds = max(game.get("overtime_seconds", 0), clock) if period > 4 else game.get("overtime_seconds", 0)
    previous = budget["games"].get(game_id)
    ended = game.get("ended", False) or final_in_record(
        play,
        game["home_score"],
        game["away_score"],
        late=previous is not None and previous[0] >= LATE_PHASE,
        try_to_come=pending is not None,
        overtime_seconds=overtime_seconds,
    )
    position = [moment_rates.phase(league, period, clock), moment_rates.closeness(wp), ended]
    if previous != position:
        budget = {**budget, "games": {**budget["games"], game_id: position}}
    live = budget.get("live", {})
    # rated once: here on the game's end, or by ``end_stale_games`` (which leaves None in ``live``)
    rated = game.get("rated", False) or (game_id in live and live[game_id] is None)
    if ended and not rated:  # the final score moves the teams' ratings, once
        ratings = team_ratings.update(
            budget["ratings"], play["home_team"], play["away_team"], play["home_score"], play["away_score"]
        )
        budget, rated = {**budget, "ratings": ratings}, True
        if game_id in live:
            budget["live"] = {gid: seen for gid, seen in live.items() if gid != game_id}
    elif not rated:
        seen = [at, play["home_team"], play["away_team"], play["home_score"], play["away_score"], period]
        budget = {**budget, "live": {**live, game_id: seen}}

    plays_seen = game["plays_seen"] + 1
    told_play, told_sig, told_wp, reported = play, sig, wp, sig["decisive"]
    if league != "NFL":  # a late basket is held and judged a few plays later (streams/games/confirmations.py)
        held, (told_play, told_sig, told_wp), reported, _ = confirmations.step(
            game, play, sig, wp, plays_seen, ended, iso(play["occurred_at"])
        )
    told_id = told_play["play_id"]
    tweet = (
        told_sig["should_tweet"]
        and budget["used"] < budget["limit"]
        and told_id not in game["tweeted"]
        and not tweet_budget.already_tweeted(budget, game_id, told_id)
        and not same_moment(game, told_sig, told_play)
    )
    if tweet:
        left = tweet_budget.tweets_left(budget, tz)
        tweet = (
            left >= 1
            and tweet_budget.room_now(budget, at) >= 1
            and tweet_budget.choose(budget, told_sig, league, schedule, left)
        )

    new_game: GameDecisionState = {
        **game,
        "home_score": play["home_score"],
        "away_score": play["away_score"],
        "win_prob_home": wp,
        "last_sequence": play["sequence"],
        "plays_seen": plays_seen,
        "pending": pending,
        "rated": rated,
        "ended": ended,
        "overtime_seconds": overtime_seconds,
    }
    if league != "NFL":
        new_game["held"] = held
    if "seen" in game:
        new_game["seen"] = {**game["seen"], play_id: digest}
        new_game["closed"] = game.get("closed", False) or play["event_type"] in FINAL_EVENT_TYPES
    if not tweet:  # the common case
        return (
            {
                "game_id": game_id,
                "play_id": play_id,
                "win_prob_home": round(wp, 6),
                "significance": sig["total_score"],
                "tweet": False,
                "urgency": sig["urgency"],
                "style": sig["style"],
                "text": None,
                "command": None,
                "decisive": reported,
            },
            new_game,
            budget,
        )
    budget = tweet_budget.spend(budget, game_id, told_id, play["occurred_at"])
    told = {**play, "description": game["pending"]["description"]} if game.get("pending") else told_play
    text = tweet_text.render(told, told_sig["style"], told_wp)
    mark_tweeted(new_game, told_sig, told_play)
    command: TweetCommand = {
        "command_id": command_id(account, game_id, told_id),
        "account": account,
        "league": league,
        "game_id": game_id,
        "play_id": told_id,
        "text": text,
        "style": told_sig["style"],
        "urgency": told_sig["urgency"],
        "significance": told_sig["total_score"],
        "win_prob_home": told_wp,
        "occurred_at": tweet_budget.to_datetime(told_play["occurred_at"]),
    }
    decision = _decision(play, wp, told_sig["total_score"], tweet, told_sig["urgency"], told_sig["style"], text)
    decision.update(command=command, decisive=reported)
    return decision, new_game, budget


def _decision(
    play: dict[str, Any], wp: float, significance: float, tweet: bool, urgency: str, style: str, text: str | None
) -> Decision:
    return {
        "game_id": play["game_id"],
        "play_id": play["play_id"],
        "win_prob_home": round(wp, 6),
        "significance": significance,
        "tweet": tweet,
        "urgency": urgency,
        "style": style,
        "text": text,
        "command": None,
        "decisive": 0.0,
    }
