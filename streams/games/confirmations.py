"""Basketball moments confirmed a few plays later: a late go-ahead or equalizer is held, and the budget decides
on it when its game has played up to ``CONFIRM_PLAYS`` more plays (or sooner, when the period ends).

In basketball every late basket can turn the lead, and when it happens little tells which one will hold: a
go-ahead with three minutes left holds about one time in seven. Three plays later (a miss, a rebound, the
answer at the other end) the same moment is far easier to judge: on simulated NBA nights (seed 1001) the
night's 17 most probable moments in hindsight catch 81% of the decisive moments when judged on the play, 99%
when judged up to three plays later. A moment tweeted up to three plays after it still tells it (the tweet is about the held play, and
the evaluation counts a moment caught within the same window).

The held moment lives in the game's decision state (``held``, JSON-able); this module decides what happens to
it on each later play of its game, and how probable it is then:

- the period ends (a play of a later period, an end-of-period record, or the game's end inferred from the
  record): it is decided at once, with the period's end known;
- the lead changes (or a tie is broken) before it is confirmed: it cannot be decisive any more, it is dropped;
- ``CONFIRM_PLAYS`` plays later: it is decided with the state of the game then.

A moment still held when its game's records stop (a feed that dies mid-game) is never told: nothing confirms
it. The feeds' end-of-period records and the inferred game ends make that rare.
"""

from __future__ import annotations

import json
import math
from functools import cache
from typing import Any, Literal, NamedTuple

from streams.games.significance import MODELS, basketball_minutes_left, leader, urgency_of

CONFIRM_PLAYS = 3  # the evaluation's CATCH_WINDOW: a moment tweeted within its next 3 plays is caught
PERIOD_END_EVENTS = frozenset({"period_end", "game_end", "final", "end_of_game"})
CONFIRMED_FEATURES = (
    "intercept",
    "logit_on_the_play",
    "tie",
    "margin_now",
    "log_minutes_left_now",
    "tie_log_minutes_left_now",
    "period_over",
    "plays_after",
)
Outcome = Literal["wait", "drop", "decide"]
NOT_A_CANDIDATE = {"should_tweet": False}  # what a play holding its moment offers the budget: nothing
_PLAY_FIELDS = ("league", "game_id", "play_id", "sequence", "period", "clock_seconds", "home_team", "away_team")
_PLAY_FIELDS += ("home_score", "away_score", "description", "event_type", "possession")


def holds(league: str, sig: dict[str, Any]) -> bool:
    """Whether a candidate is held for confirmation: a basketball late go-ahead or equalizer (a decisive
    probability of its own); every other candidate is decided on its play."""
    return league != "NFL" and sig["decisive"] > 0 and sig["should_tweet"]


def hold(play: dict[str, Any], sig: dict[str, Any], wp: float, plays_seen: int, occurred_at: str) -> dict[str, Any]:
    """The held moment: what its tweet needs (the play, its significance and win probability) and where it
    stands (``plays_seen`` counting the play itself; ``occurred_at`` as ISO text)."""
    return {
        "play": {**{k: play.get(k) for k in _PLAY_FIELDS}, "occurred_at": occurred_at},
        "sig": sig,
        "wp": wp,
        "index": plays_seen,
        "leader": leader(play["home_score"], play["away_score"]),
    }


def outcome(held: dict[str, Any], play: dict[str, Any], plays_seen: int, ended: bool) -> Outcome:
    """What ``play`` (a later play of the held moment's game; ``plays_seen`` counting it) does to the moment."""
    if play["period"] != held["play"]["period"]:
        return "decide"  # its period ended as the moment left it (a feed need not send the period's end)
    if leader(play["home_score"], play["away_score"]) != held["leader"]:
        return "drop"
    if period_over(held, play, ended) or plays_seen - held["index"] >= CONFIRM_PLAYS:
        return "decide"
    return "wait"


def period_over(held: dict[str, Any], play: dict[str, Any], ended: bool) -> bool:
    return ended or play["period"] != held["play"]["period"] or play["event_type"] in PERIOD_END_EVENTS


def confirmed_features(held: dict[str, Any], play: dict[str, Any], plays_seen: int, ended: bool) -> tuple[float, ...]:
    """Features of the confirmed-moment model for the held moment as ``play`` left its game."""
    on_the_play = min(max(held["sig"]["decisive"], 1e-3), 1 - 1e-3)
    tie = 1.0 if held["leader"] is None else 0.0
    over = period_over(held, play, ended)
    minutes = 0.0 if over else basketball_minutes_left(play["league"], play["period"], play["clock_seconds"])
    scores = held["play"] if play["period"] != held["play"]["period"] else play  # the period's end, not the next
    log_minutes = math.log(minutes + 0.05)
    return (
        1.0,
        math.log(on_the_play / (1 - on_the_play)),
        tie,
        float(abs(scores["home_score"] - scores["away_score"])),
        log_minutes,
        tie * log_minutes,
        1.0 if over else 0.0,
        float(plays_seen - held["index"]),
    )


def confirmed_model_path(league: str):
    return MODELS / f"{league.lower()}_confirmed.json"


@cache
def confirmed_weights(league: str) -> tuple[float, ...] | None:
    """Weights of the shipped confirmed-moment model (``wirereport train decisive``); None: keep the
    probability the moment had on its play."""
    path = confirmed_model_path(league)
    if not path.exists():
        return None
    model = json.loads(path.read_text())
    if tuple(model["features"]) != CONFIRMED_FEATURES:
        raise ValueError(f"{path}: model features do not match this code")
    return tuple(model["weights"])


def confirmed_probability(held: dict[str, Any], play: dict[str, Any], plays_seen: int, ended: bool) -> float:
    """P(the held moment is decisive), judged as ``play`` left its game."""
    weights = confirmed_weights(play["league"])
    if weights is None:
        return held["sig"]["decisive"]
    z = sum(w * x for w, x in zip(weights, confirmed_features(held, play, plays_seen, ended), strict=True))
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def confirmed_sig(held: dict[str, Any], probability: float) -> dict[str, Any]:
    """The held moment's significance with its confirmed probability (what the budget decides on)."""
    # a basketball late basket is worth its chance to decide the game, as on its play
    total = round(100.0 * probability, 2)
    return {
        **held["sig"],
        "decisive": probability,
        "value": probability,
        "total_score": total,
        "urgency": urgency_of(probability),
    }


class Step(NamedTuple):
    """A basketball play's effect on its game's held moment."""

    held: dict[str, Any] | None  # the moment held after the play
    subject: tuple[dict[str, Any], dict[str, Any], float]  # (play, significance, WP) the budget decides on now
    reported: float  # the play's decisive probability as its decision reports it
    decided: dict[str, Any] | None  # the held moment decided at this play, if any


def step(
    game: dict[str, Any], play: dict[str, Any], sig: dict[str, Any], wp: float, plays_seen: int, ended: bool, at: str
) -> Step:
    """What a basketball play does with its game's held moment (``plays_seen`` counts the play; ``at`` is its
    time as ISO text). A moment decided at this play (its confirmation, or a new one whose period is already
    over) is what the budget decides on; otherwise the play itself, unless it is a moment to hold."""
    held = game.get("held")
    subject, reported, decided = None, 0.0, None
    if held is not None:
        result = outcome(held, play, plays_seen, ended)
        if result == "decide":
            reported = confirmed_probability(held, play, plays_seen, ended)
            subject, decided = (held["play"], confirmed_sig(held, reported), held["wp"]), held
        if result != "wait":
            held = None
    if holds(play["league"], sig):  # a new moment: the lead changed, so no moment is still held
        moment = hold(play, sig, wp, plays_seen, at)
        if subject is None and period_over(moment, play, ended):  # nothing more in its period: no wait
            reported = confirmed_probability(moment, play, plays_seen, ended)
            return Step(None, (moment["play"], confirmed_sig(moment, reported), wp), reported, moment)
        return Step(moment, subject or (play, NOT_A_CANDIDATE, wp), reported, decided)
    if subject is None:
        return Step(held, (play, sig, wp), sig["decisive"], None)
    return Step(held, subject, reported, decided)
