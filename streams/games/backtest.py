"""``wirereport backtest plays``: the game agent's exact decisions over recorded plays, without a broker.

Deterministic and strictly online: plays are decided one by one in input order with
``steps.decide_for_account`` on the play's account (``play_decisions.account_for``), the same
step and the same account record the games agent keeps, so a day rollover drops finished games here too;
each decision only sees earlier plays and the schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from streams.exceptions import InvalidRecord
from streams.games.play_decisions import account_for
from streams.games.steps import decide_for_account
from streams.games.tweet_budget import ScheduleIndex

OUTPUT_FIELDS = ("game_id", "play_id", "win_prob_home", "significance", "tweet", "urgency", "style", "text")


def run(
    plays: Iterable[dict[str, Any]],
    schedule: Iterable[dict[str, Any]] = (),
    budget: int = 17,
    tz: str = "America/New_York",
    refused: Callable[[int, InvalidRecord], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """One decision per play, in input order (with the TweetCommand under ``command`` when tweeted).

    A play its game refuses (out of order, after its final, a score going down: ``InvalidRecord``) raises, or,
    with ``refused``, is handed to it with its position and has no decision (the agent dead-letters it).
    """
    index = ScheduleIndex(schedule, tz)
    accounts: dict[str, dict[str, Any]] = {}
    for position, play in enumerate(plays):
        account = account_for(play["league"])
        try:
            decision, accounts[account] = decide_for_account(play, accounts.get(account), index, limit=budget, tz=tz)
        except InvalidRecord as exc:
            if refused is None:
                raise
            refused(position, exc)
            continue
        yield decision


def preload(plays: Iterable[dict[str, Any]]) -> None:
    """Read the shipped models of the leagues in ``plays`` (each is read once, on first use) before timing."""
    from streams.games import moment_rates, significance
    from streams.games.win_probability import nfl

    for league in {p["league"] for p in plays}:
        moment_rates.load(league)
        significance.decisive_weights(league)
        if league == "NFL":
            nfl.load_model()


def output_line(decision: dict[str, Any]) -> dict[str, Any]:
    """The backtest's JSON line for a decision (DESIGN.md's contract)."""
    return {k: decision[k] for k in OUTPUT_FIELDS}
