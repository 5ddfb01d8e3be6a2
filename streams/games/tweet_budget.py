"""The tweet budget of a league account, planned per slate within X's rolling limit (pure, JSON-able state).

X lets an account post 17 tweets (configurable) in any rolling 24 hours. The budget plans per *slate*, a sports
day that runs from 06:00 to 06:00 America/New_York: no game of these leagues starts between 03:00 and 06:00 ET,
so a night's late games (an NBA tip-off at 22:30 ET ends after 01:00) stay on the slate they started on. The
boundary is a fixed clock time on purpose: it needs neither the schedule nor the games' ends, so a missing
schedule or a game whose end never comes cannot stretch or split a slate. Within a slate the account keeps
the times of its tweets of the last 24 hours (across slates) and never decides a tweet that would make more
than ``limit`` in any rolling 24 hours; the tweets it plans with are the slate's left, capped by what the
window allows before the slate ends (``tweets_left``: the window frees a slot as each old tweet ages out).

The slate's tweets are spent in two tiers:

- decisive moments first: a candidate whose probability of being a decisive moment (``significance``'s
  ``decisive``) clears the optimal-stopping bar for the tweets left, given the decisive moments the day's
  unfinished games and the games the schedule still has to start are expected to hold (``moment_rates``'
  decisive table; a game going to overtime brings its own, phase 15). Early in a busy day only near-certain
  game-winners pass; as games end, the bar drops; a quiet afternoon keeps reserve for the night game.
- then the surplus: tweets beyond a reserve for the decisive moments still to come go to the day's best
  other moments (scores, finals, big swings), quality first, never garbage time, so a full day spends most
  of its budget instead of leaving it unused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from streams.games import moment_rates, team_ratings
from streams.games.slates import SLATE_START_HOUR as SLATE_START_HOUR
from streams.games.slates import epoch, iso, slate_end, slate_of, to_datetime
from streams.games.slates import local_day as local_day
from streams.games.slates import zone as zone
from streams.games.team_ratings import TeamRatings

# A decisive-moment tweet is spent on a moment of decisive probability ``d`` when ``d`` clears the optimal
# stopping bar for the tweets left and the decisive moments the day's unfinished and scheduled games are still
# expected to hold (``stopping_threshold``), and never below SPEND_FLOOR. Chosen on the NFL seasons 2013-2017
# (2018 validates, 2019 is held out): floor 0.1 -> 76.7% / 99.0% of decisive moments caught at 6 / 17 a day,
# 0.3 -> 75.3% / 97.3%; scaling the bar by 0.9 or 1.1 changes nothing or loses.
SPEND_FLOOR = 0.1
# Basketball: a tie with 20 seconds left forces overtime about once in ten; on a quiet night with tweets to spare
# it is worth one (the stopping bar still decides). Chosen on simulated seeds 2-3.
BASKETBALL_SPEND_FLOOR = 0.03
DP_STEPS = 16
# Surplus tweets: beyond a reserve for the decisive moments still to come (their count's RESERVE_QUANTILE
# quantile plus RESERVE_EXTRA), the budget is spent on the day's best other moments, quality first: scores,
# finals and big swings worth at least SURPLUS_MIN_VALUE, never a plain play, never garbage time.
RESERVE_QUANTILE = 0.95
RESERVE_LEVEL = 0.3
RESERVE_EXTRA = 1
SURPLUS_FACTOR = 1.0
SURPLUS_MIN_VALUE = 0.1
# Basketball on a quiet night (a slate of at most QUIET_NIGHT_GAMES games): every basket can turn the lead
# and overtime can always come, so a moment before the last five minutes leaves LAST_FIVE_HOLD of the limit
# untouched, and one before overtime OVERTIME_HOLD more (3 and 4 tweets of 17): the moment tables, learned
# from ordinary nights with 6% overtimes, would spend them on 4th-quarter lead changes. A moment at least
# HOLD_EXEMPT likely to decide the game is what the tweets are held for. Chosen on simulated seeds 2-3 (see
# docs/basketball-decisions.md); the evaluation seeds start at 1001.
QUIET_NIGHT_GAMES = 2
LAST_FIVE_HOLD = 3 / 17
OVERTIME_HOLD = 4 / 17
HOLD_EXEMPT = 0.4
WINDOW_SECONDS = 24 * 3600.0  # X's per-user window


# Where a game of the day stands, for the look-ahead: [phase (moment_rates.phase), closeness (0-2), final].
# A list, not a tuple: the state is JSON and must compare equal to itself after a round trip.
GamePosition = list[Any]
# A game seen and not rated yet: [last play's occurred_at (epoch seconds), home, away, home score, away score,
# period]: enough to end it after a staleness timeout (``game_state.STALE_SECONDS``) and rate its last score.
LiveGame = list[Any]


class BudgetState(TypedDict):
    """A league account's tweet budget for one slate (JSON-able; the ``TweetBudget`` record is its published form)."""

    account: str
    day: str  # the slate: ISO date (account's time zone) of its 06:00 start
    limit: int  # tweets per slate and in any rolling 24 hours
    used: int  # tweets of the slate
    tweeted: list[list[str]]  # [game_id, play_id] of each tweet of the slate
    games: dict[str, GamePosition]  # the slate's games (finished ones too) and the live games carried over
    ratings: TeamRatings
    # states written before these keys existed lack them (read with defaults)
    recent: NotRequired[list[str]]  # occurred_at (ISO) of the account's tweets of the last 24 hours, any slate
    live: NotRequired[dict[str, LiveGame]]  # games seen and not yet rated: their last play (staleness, ratings)


class ScheduleIndex:
    """The schedule by (league, slate): which games an account's slate holds."""

    def __init__(self, schedule: Iterable[dict[str, Any]] = (), tz: str = "America/New_York") -> None:
        self.tz = tz
        self.by_day: dict[tuple[str, str], tuple[str, ...]] = {}
        slates: dict[tuple[str, str], list[str]] = {}
        for game in schedule:
            key = (str(game["league"]), slate_of(game["scheduled_start"], tz))
            slates.setdefault(key, []).append(str(game["game_id"]))
        self.by_day = {key: tuple(ids) for key, ids in slates.items()}

    def games_on(self, league: str, slate: str) -> tuple[str, ...]:
        """The games scheduled to start on ``slate``."""
        return self.by_day.get((league, slate), ())


def new_state(account: str, day: str, limit: int, ratings: TeamRatings | None = None) -> BudgetState:
    """A fresh slate. ``ratings`` (team Elo ratings of the account's league) default to the shipped ones."""
    return {
        "account": account,
        "day": day,
        "limit": limit,
        "used": 0,
        "tweeted": [],
        "games": {},
        "ratings": ratings if ratings is not None else team_ratings.initial(account),
        "recent": [],
        "live": {},
    }


def for_slate(state: BudgetState | None, account: str, slate: str, limit: int) -> BudgetState:
    """The account's state for ``slate``: a new slate starts with a full budget; the live games and the tweets
    of the last 24 hours are carried over (the rolling window spans slates)."""
    if state is None:
        return new_state(account, slate, limit)
    if state["day"] == slate:
        if state["limit"] != limit:
            state = {**state, "limit": limit}
        return state
    if slate < state["day"]:  # a late play of the previous slate: keep counting on the current slate
        return state
    carried = {gid: pos for gid, pos in state["games"].items() if not pos[2]}
    live = {gid: game for gid, game in state.get("live", {}).items() if gid in carried}
    return {
        **new_state(account, slate, limit, state["ratings"]),
        "games": carried,
        "recent": list(state.get("recent", [])),
        "live": live,
    }


def in_window(state: BudgetState, since: float) -> int:
    """The account's tweets after ``since`` (epoch seconds) among those of the last 24 hours it keeps."""
    return sum(1 for at in state.get("recent", ()) if epoch(at) > since)


def room_now(state: BudgetState, at: float) -> int:
    """Tweets the rolling window allows at ``at`` (epoch seconds): ``limit`` less those of the 24 hours before."""
    return state["limit"] - in_window(state, at - WINDOW_SECONDS)


def tweets_left(state: BudgetState, tz: str = "America/New_York") -> int:
    """The tweets the slate can still make: its budget left, capped by what the rolling window allows before the
    slate closes (a tweet still inside the window at the close takes a slot for the rest of the slate; older
    ones free theirs as they age out, so a busy late night before does not cost the whole next slate)."""
    window_left = state["limit"] - in_window(state, slate_end(state["day"], tz) - WINDOW_SECONDS)
    return max(0, min(state["limit"] - state["used"], window_left))


def with_game_position(state: BudgetState, game_id: str, position: GamePosition) -> BudgetState:
    """State with a game's [phase, closeness, final] updated (the same object if nothing changed)."""
    if state["games"].get(game_id) == position:
        return state
    return {**state, "games": {**state["games"], game_id: position}}


def expected_better_moments(
    state: BudgetState, league: str, value: float, schedule: ScheduleIndex | None, table: dict[str, Any]
) -> float:
    """Expected moments of value >= ``value`` still to come today, over live and not-yet-started games."""
    total = 0.0
    for ph, cl, final in state["games"].values():
        if not final:
            total += moment_rates.expected_moments(table, ph, cl, value)
    if schedule is not None:
        games = state["games"]
        for game_id in schedule.games_on(league, state["day"]):
            if game_id not in games:
                total += moment_rates.expected_moments(table, None, 0, value)
    return total


def expected_curve(
    state: BudgetState, league: str, schedule: ScheduleIndex | None, table: dict[str, Any], kind: str = ""
) -> list[float]:
    """Expected moments still to come today at or above each level of ``moment_rates.VALUE_GRID``.

    ``kind`` "" counts moments by value, "decisive_" by their probability of being a decisive moment.
    """
    cells = table[kind + "table"]
    rows = [cells[ph][cl] for ph, cl, final in state["games"].values() if not final]
    if schedule is not None:
        games = state["games"]
        pregame = table[kind + "pregame"]
        rows.extend(pregame for gid in schedule.games_on(league, state["day"]) if gid not in games)
    return [sum(col) for col in zip(*rows, strict=True)] if rows else [0.0] * len(moment_rates.VALUE_GRID)


def clears_spend_threshold(value: float, curve: list[float], left: int, factor: float) -> bool:
    """``value >= spend_threshold(curve, left, factor)``, adding levels only until the answer is known."""
    bar = previous = 0.0
    for level, count in zip(moment_rates.VALUE_GRID, curve, strict=True):
        p = poisson_at_least(left, factor * count)
        if p < 1e-12:  # the counts fall with the level: what is left of the sum is ~0
            return True
        bar += p * (level - previous)
        if bar > value:
            return False
        previous = level
    return True


def spend_threshold(curve: list[float], left: int, factor: float) -> float:
    """E[value of the ``left``-th best moment still to come]: what spending a tweet now would crowd out."""
    grid = moment_rates.VALUE_GRID
    bar = poisson_at_least(left, factor * curve[0]) * grid[0]
    for k in range(len(grid) - 1):
        bar += poisson_at_least(left, factor * curve[k + 1]) * (grid[k + 1] - grid[k])
    return bar


def expected_count(
    state: BudgetState, league: str, schedule: ScheduleIndex | None, table: dict[str, Any], kind: str, level: int
) -> float:
    """One level of ``expected_curve`` (index ``level`` of the value grid), without building the whole curve."""
    cells = table[kind + "table"]
    games = state["games"]
    total = sum(cells[ph][cl][level] for ph, cl, final in games.values() if not final)
    if schedule is not None:
        unstarted = sum(1 for gid in schedule.games_on(league, state["day"]) if gid not in games)
        total += unstarted * table[kind + "pregame"][level]
    return total


def stopping_threshold(curve: list[float], left: int, steps: int | None = None) -> float:
    """The optimal bar for a moment now with ``left`` tweets and ``curve`` moments still to come (Poisson, iid).

    Dynamic programming of the multiple-choice secretary problem: with V_k the expected value the best policy
    collects from what is still to come with k tweets, a moment of value v is worth a tweet now when
    v >= V_k - V_(k-1). Going backwards from the end of the day over the remaining arrivals,
    dV_k/ds = integral over x >= V_k - V_(k-1) of curve(x) dx (s: share of the remaining moments seen),
    solved with ``steps`` midpoint steps (default: 2 per expected moment, within 4..DP_STEPS; error < 0.01).
    """
    grid = moment_rates.VALUE_GRID
    if left < 1 or curve[0] <= 0 or left > curve[0] + 6.0 * math.sqrt(curve[0]) + 6.0:
        return 0.0  # more tweets than moments to come (P(N >= left) < 1e-8): the marginal tweet is worth ~0
    # cumulative integral of the curve from x to 1 at each grid level (curve(x) = curve[0] below the grid)
    tail = [0.0] * len(grid)
    for k in range(len(grid) - 2, -1, -1):
        tail[k] = tail[k + 1] + 0.5 * (curve[k] + curve[k + 1]) * (grid[k + 1] - grid[k])
    first, top = grid[0], len(grid) - 1

    def above(delta: float) -> float:
        if delta <= first:
            return tail[0] + curve[0] * (first - max(delta, 0.0))
        k = moment_rates.grid_index(delta)
        if k >= top:
            return 0.0
        share = (delta - grid[k]) / (grid[k + 1] - grid[k])
        at = curve[k] + (curve[k + 1] - curve[k]) * share
        return tail[k + 1] + 0.5 * (at + curve[k + 1]) * (grid[k + 1] - delta)

    if steps is None:
        steps = min(DP_STEPS, max(4, math.ceil(2.0 * curve[0])))
    values = [0.0] * (left + 1)
    h = 1.0 / steps
    for _ in range(steps):
        slope = [0.0] + [above(values[k] - values[k - 1]) for k in range(1, left + 1)]
        mid = [v + 0.5 * h * d for v, d in zip(values, slope, strict=True)]
        values = [values[0]] + [values[k] + h * above(mid[k] - mid[k - 1]) for k in range(1, left + 1)]
    return values[left] - values[left - 1]


def poisson_at_least(k: int, mean: float) -> float:
    """P(N >= k) for N ~ Poisson(mean)."""
    if mean <= 0:
        return 0.0 if k > 0 else 1.0
    if k > mean + 10.0 * math.sqrt(mean) + 10.0:
        return 0.0  # below 1e-15
    term = math.exp(-mean)
    below = 0.0
    for i in range(k):
        below += term
        term *= mean / (i + 1)
    return max(0.0, 1.0 - below)


def poisson_quantile(q: float, mean: float) -> int:
    """The smallest n with P(N <= n) >= q for N ~ Poisson(mean)."""
    if mean <= 0:
        return 0
    term = math.exp(-mean)
    below, n = term, 0
    while below < q and n < 1000:
        n += 1
        term *= mean / n
        below += term
    return n


def reserve(decisive_curve: list[float]) -> int:
    """Tweets kept for the decisive moments still to come today (a high quantile of their count, plus one)."""
    return reserve_for(decisive_curve[moment_rates.grid_index(RESERVE_LEVEL)])


def reserve_for(expected_decisive: float) -> int:
    """``reserve`` from the expected count of decisive moments (probability >= RESERVE_LEVEL) still to come."""
    return poisson_quantile(RESERVE_QUANTILE, expected_decisive) + RESERVE_EXTRA


def should_spend(
    state: BudgetState, decisive: float, curve: list[float], left: int | None = None, floor: float = SPEND_FLOOR
) -> bool:
    """Spend a tweet on a probably decisive moment if it beats what the tweet would crowd out later.

    ``curve``: expected decisive moments still to come today at each level of the value grid; ``left``: the
    tweets the slate can still make (default: its budget left).
    """
    if left is None:
        left = state["limit"] - state["used"]
    if left < 1 or decisive < floor:
        return False
    return decisive >= stopping_threshold(curve, left)


def basketball_hold_back(state: BudgetState, sig: dict[str, Any], league: str, schedule: ScheduleIndex | None) -> int:
    """Tweets a quiet basketball night (a slate of at most QUIET_NIGHT_GAMES games) keeps for the last five
    minutes and overtime: 0 on a busier night, in overtime and for a probably decisive moment; the last five
    minutes keep only the overtime's. On a busy night the other games' endings use what one game leaves."""
    games = set(state["games"])
    if schedule is not None:
        games.update(schedule.games_on(league, state["day"]))
    if len(games) > QUIET_NIGHT_GAMES or sig["overtime"] or sig["decisive"] >= HOLD_EXEMPT:
        return 0
    return round(state["limit"] * (OVERTIME_HOLD + (0.0 if sig["clutch"] else LAST_FIVE_HOLD)))


def choose(
    state: BudgetState, sig: dict[str, Any], league: str, schedule: ScheduleIndex | None, left: int | None = None
) -> bool:
    """The budget's call on a candidate: a decisive-moment tweet, or a surplus tweet on a good moment.

    ``left``: the tweets the slate can still make (``tweets_left``; default: its budget left). Curves are built
    only when a rule needs them (most candidates fail the cheap checks first).
    """
    if left is None:
        left = state["limit"] - state["used"]
    if league != "NFL":
        left -= basketball_hold_back(state, sig, league, schedule)
    decisive, value = sig["decisive"], sig["value"]
    floor = SPEND_FLOOR if league == "NFL" else BASKETBALL_SPEND_FLOOR
    if left < 1 or (decisive < floor and value < SURPLUS_MIN_VALUE):
        return False
    table = moment_rates.load(league)
    decisive_curve = None
    if decisive >= floor:
        decisive_curve = expected_curve(state, league, schedule, table, "decisive_")
        if should_spend(state, decisive, decisive_curve, left, floor):
            return True
    if value < SURPLUS_MIN_VALUE or sig["style"] == "update":  # surplus tweets tell of events, not mere plays
        return False
    if decisive_curve is not None:
        surplus = left - reserve(decisive_curve)
    else:
        level = moment_rates.grid_index(RESERVE_LEVEL)
        surplus = left - reserve_for(expected_count(state, league, schedule, table, "decisive_", level))
    if surplus < 1:
        return False
    return clears_spend_threshold(value, expected_curve(state, league, schedule, table), surplus, SURPLUS_FACTOR)


def spend(state: BudgetState, game_id: str, play_id: str, at: Any = None) -> BudgetState:
    """The state after a tweet on the play at ``at`` (its occurred_at): counted in the slate and the window
    (tweets older than 24 hours leave the window)."""
    recent = list(state.get("recent", []))
    if at is not None:
        now = epoch(at)
        recent = [t for t in recent if epoch(t) > now - WINDOW_SECONDS]
        recent.append(iso(at))
    return {**state, "used": state["used"] + 1, "tweeted": [*state["tweeted"], [game_id, play_id]], "recent": recent}


def seeded(state: BudgetState, posted_at: Iterable[float], now: Any, tz: str = "America/New_York") -> BudgetState:
    """A fresh state with the tweets the publisher reports it posted (``posted_at``: epoch seconds of their
    receipts) in the 24 hours before ``now``: in the window, and those of the state's slate in its usage.

    For a budget rebuilt after its table was lost. A receipt stamped after ``now`` (a day replayed after it was
    posted, or a clock ahead of the plays) counts as posted at ``now``: it holds its slot for the next 24 hours.
    """
    at = epoch(now)
    kept = sorted(min(t, at) for t in posted_at if t > at - WINDOW_SECONDS)
    times = [datetime.fromtimestamp(t, UTC) for t in kept]
    used = sum(1 for t in times if slate_of(t, tz) == state["day"])
    return {**state, "used": state["used"] + used, "recent": [*state.get("recent", []), *map(iso, times)]}


def already_tweeted(state: BudgetState, game_id: str, play_id: str) -> bool:
    return any(g == game_id and p == play_id for g, p in state["tweeted"])


def to_record(state: BudgetState, updated_at: Any = None) -> dict[str, Any]:
    """The TweetBudget record (Avro) of a budget state."""
    return {
        "account": state["account"],
        "day": state["day"],
        "limit": state["limit"],
        "used": state["used"],
        "tweeted": [f"{g}/{p}" for g, p in state["tweeted"]],
        "games": [
            {"game_id": gid, "phase": ph, "closeness": cl, "final": bool(final)}
            for gid, (ph, cl, final) in state["games"].items()
        ],
        "updated_at": to_datetime(updated_at) if updated_at is not None else None,
        "ratings_season": state["ratings"]["season"],
        "ratings": [{"team": t, "rating": r} for t, r in sorted(state["ratings"]["ratings"].items())],
        "recent_tweets": [to_datetime(t) for t in state.get("recent", [])],
    }


def from_record(record: dict[str, Any]) -> BudgetState:
    """The budget state of a TweetBudget record."""
    return {
        "account": record["account"],
        "day": record["day"],
        "limit": record["limit"],
        "used": record["used"],
        "tweeted": [t.split("/", 1) for t in record["tweeted"]],
        "games": {g["game_id"]: [g["phase"], g["closeness"], g["final"]] for g in record["games"]},
        "ratings": {"season": record["ratings_season"], "ratings": {r["team"]: r["rating"] for r in record["ratings"]}},
        "recent": [iso(t) for t in record.get("recent_tweets", [])],
        "live": {},  # not published: games still live start over as seen from their next play
    }
