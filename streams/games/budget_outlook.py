"""What a league account's tweet budget looks like to an operator: the figures the console and the API show (pure).

Built from the published budget (``tweet_budget.from_record``) and the schedule with the budget's own functions, so
the figures are the policy's and nothing here decides anything:

- ``left``: the tweets the slate can still make (``tweets_left``: the budget left, capped by the rolling window);
- ``reserve``: of those, the ones kept for the decisive moments the unfinished and scheduled games are still
  expected to hold (``reserve_for``; ``decisive_ahead`` is that expectation); ``spare`` is what the surplus tier
  may spend on other good moments, and ``held_back`` what a quiet basketball night keeps for its last minutes;
- ``rolling_24h``: the account's tweets in the 24 hours before ``as_of`` (X's rolling limit), ``room_now`` what the
  window still allows then, and ``window_frees_at`` when its oldest tweet ages out;
- ``decisive_bar`` / ``surplus_bar``: what the next moment must clear to be tweeted as a decisive moment (its
  probability of deciding its game) or as a surplus tweet (its value), as ``choose`` would judge it now (None: no
  tweet of that tier for an ordinary moment now);
- ``watching``: the games still to come or under way, those expected to hold the most decisive moments first.

``as_of`` is the budget's own clock (``updated_at``: the occurred_at of the last play that changed it), not the
wall clock: the policy counts its window in play time, and a replayed day would otherwise show an empty window.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from streams.games import moment_rates, tweet_budget
from streams.games.tweet_budget import BudgetState, ScheduleIndex

WATCHED = 4  # games listed under "watching"
CLOSENESS = ("toss-up", "leaning", "decided")  # moment_rates.closeness 0, 1, 2
PREGAME = "not started"
# basketball_hold_back's view of an ordinary moment (before the last five minutes, not overtime, not likely
# decisive): the bars are what such a moment must clear; later moments get part of the hold back.
ORDINARY_MOMENT = {"overtime": False, "clutch": False, "decisive": 0.0}


def stage(league: str, phase: int | None) -> str:
    """A game's phase (``moment_rates.phase``) in words: ``Q2``, ``Q4 under 2:00``, ``OT``."""
    if phase is None:
        return PREGAME
    if phase >= 15:
        return "OT"
    if phase < 9:
        return f"Q{phase // 3 + 1}"  # phases 0-8 are twelfths of regulation: three per quarter
    if phase == 9:
        return "Q4"
    # phase 10 + k: at most LAST_QUARTER_STEPS[k] seconds left on the NFL's 15-minute scale, the league's in its own
    seconds = round(moment_rates.LAST_QUARTER_STEPS[phase - 10] * moment_rates.PERIOD_SECONDS.get(league, 900) / 900)
    return f"Q4 under {seconds // 60}:{seconds % 60:02d}"


def watching(state: BudgetState, league: str, schedule: ScheduleIndex | None, table: dict[str, Any]) -> list[dict]:
    """The unfinished and not-yet-started games of the slate, most expected decisive moments first.

    Each game's figure is its own term of the policy's count (``expected_count``): the decisive table's cell of its
    phase and closeness, or the pre-game row for a game the schedule still has to start.
    """
    level = moment_rates.grid_index(tweet_budget.RESERVE_LEVEL)
    cells, pregame = table["decisive_table"], table["decisive_pregame"][level]
    items = [(gid, ph, cl, cells[ph][cl][level]) for gid, (ph, cl, final) in state["games"].items() if not final]
    if schedule is not None:
        items += [
            (gid, None, 0, pregame) for gid in schedule.games_on(league, state["day"]) if gid not in state["games"]
        ]
    items.sort(key=lambda item: (-item[3], item[0]))
    return [
        {
            "game_id": game_id,
            "phase": ph,
            "stage": stage(league, ph),
            "closeness": CLOSENESS[cl] if ph is not None else None,  # a game not started has none yet
            "decisive_ahead": round(expected, 3),
        }
        for game_id, ph, cl, expected in items[:WATCHED]
    ]


def outlook(
    state: BudgetState,
    league: str,
    schedule: ScheduleIndex | None,
    as_of: float,
    tz: str = "America/New_York",
) -> dict[str, Any]:
    """The operator's figures of a budget at ``as_of`` (epoch seconds; see the module's note on the clock)."""
    table = moment_rates.load(league)
    left = tweet_budget.tweets_left(state, tz)
    level = moment_rates.grid_index(tweet_budget.RESERVE_LEVEL)  # the decisive moments the reserve is kept for
    expected = tweet_budget.expected_count(state, league, schedule, table, "decisive_", level)
    needed = tweet_budget.reserve_for(expected)
    since = as_of - tweet_budget.WINDOW_SECONDS
    window = sorted(t for t in map(tweet_budget.epoch, state.get("recent", ())) if t > since)
    # what ``choose`` is given for an ordinary moment: the slate's tweets left, less a quiet basketball night's hold
    held_back = 0 if league == "NFL" else tweet_budget.basketball_hold_back(state, ORDINARY_MOMENT, league, schedule)
    usable = left - held_back
    floor = tweet_budget.SPEND_FLOOR if league == "NFL" else tweet_budget.BASKETBALL_SPEND_FLOOR
    decisive_bar = surplus_bar = None
    if usable >= 1:
        curve = tweet_budget.expected_curve(state, league, schedule, table, "decisive_")
        decisive_bar = max(floor, tweet_budget.stopping_threshold(curve, usable))  # should_spend's two tests
        surplus = usable - tweet_budget.reserve(curve)
        if surplus >= 1:
            values = tweet_budget.expected_curve(state, league, schedule, table)
            bar = tweet_budget.spend_threshold(values, surplus, tweet_budget.SURPLUS_FACTOR)
            surplus_bar = max(tweet_budget.SURPLUS_MIN_VALUE, bar)
    return {
        "as_of": as_of_iso(as_of),
        "left": left,
        "reserve": min(left, needed),
        "spare": max(0, usable - needed),  # choose's surplus: the tweets the surplus tier may spend
        "decisive_ahead": round(expected, 3),
        "rolling_24h": len(window),
        "room_now": max(0, tweet_budget.room_now(state, as_of)),
        "window_frees_at": as_of_iso(window[0] + tweet_budget.WINDOW_SECONDS) if window else None,
        "held_back": held_back,
        "decisive_bar": None if decisive_bar is None else round(decisive_bar, 4),
        "surplus_bar": None if surplus_bar is None else round(surplus_bar, 4),
        "watching": watching(state, league, schedule, table),
    }


def as_of_iso(epoch_seconds: float) -> str:
    """ISO-8601 UTC text (``Z``) of epoch seconds."""
    return tweet_budget.iso(datetime.fromtimestamp(epoch_seconds, UTC))


def of_record(
    record: dict[str, Any], league: str, schedule: ScheduleIndex | None, tz: str = "America/New_York"
) -> dict[str, Any]:
    """The outlook of a published TweetBudget record (its JSON form or its decoded Avro form), as of its
    ``updated_at``; a record without one (none of its plays changed it yet) as of its newest tweet, else of the
    start of its slate."""
    state = tweet_budget.from_record(record)
    clock = record.get("updated_at") or max(state.get("recent", ()), default=None, key=tweet_budget.epoch)
    if clock is not None:
        return outlook(state, league, schedule, tweet_budget.epoch(clock), tz)
    start = datetime.combine(
        date.fromisoformat(state["day"]), time(tweet_budget.SLATE_START_HOUR), tweet_budget.zone(tz)
    )
    return outlook(state, league, schedule, start.timestamp(), tz)
