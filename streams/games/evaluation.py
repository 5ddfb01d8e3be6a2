"""Evaluating tweet decisions against what decided the games (pure).

Decisive moments: the score that put the eventual winner ahead for good when it came in the 4th quarter or
later, and the last equalizer before the end of a period that forced overtime. A moment is caught when the
play, or one of the next ``CATCH_WINDOW`` plays of its game, was tweeted. The baseline rule tweets every score
from the 4th quarter on, first come first served, until the day's budget is spent (a touchdown and its try
are one score). Two bounds put the policy's numbers in context: the oracle knows the decisive moments in advance
(limited only by the daily budget); the hindsight-value policy knows the whole day's significance values in
advance (not the outcomes) and tweets the day's top ``budget`` of them. A "day" here is the budget's slate
(06:00 to 06:00 New York time, ``tweet_budget.slate_of``); ``most_in_24_hours`` checks X's rolling window.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from statistics import median
from typing import Any

from streams.games import tweet_budget
from streams.games.game_state import try_pending
from streams.games.significance import is_garbage_time, leader
from streams.games.win_probability import fitting

CATCH_WINDOW = 3
LATE_PERIOD = 4


def by_game(plays: Sequence[dict[str, Any]]) -> dict[str, list[int]]:
    """Indexes (into ``plays``) of each game's plays, in input order."""
    games: dict[str, list[int]] = defaultdict(list)
    for i, play in enumerate(plays):
        games[play["game_id"]].append(i)
    return games


def decisive_moments(plays: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Decisive moments of every game in ``plays``: dicts with index, game_id, play_id, kind."""
    moments = []
    for idx in by_game(plays).values():
        last = plays[idx[-1]]
        winner = leader(last["home_score"], last["away_score"])
        go_ahead_for_good = None
        last_equalizer = None
        forced: list[int] = []
        prev_leader, prev = None, None
        for i in idx:
            play = plays[i]
            period_ended_tied = (
                prev is not None
                and play["period"] > prev["period"] >= LATE_PERIOD
                and prev["home_score"] == prev["away_score"]
            )
            if period_ended_tied and last_equalizer is not None:
                forced.append(last_equalizer)  # the period ended tied and the game went on
            now = leader(play["home_score"], play["away_score"])
            if now != prev_leader:
                if winner is not None and now == winner:
                    go_ahead_for_good = i
                if now is None:
                    last_equalizer = i
            prev_leader, prev = now, play
        if go_ahead_for_good is not None and plays[go_ahead_for_good]["period"] >= LATE_PERIOD:
            moments.append(_moment(plays, go_ahead_for_good, "go_ahead_for_good"))
        for i in dict.fromkeys(forced):
            moments.append(_moment(plays, i, "equalizer_forcing_overtime"))
    return moments


def _moment(plays: Sequence[dict[str, Any]], i: int, kind: str) -> dict[str, Any]:
    p = plays[i]
    return {"index": i, "game_id": p["game_id"], "play_id": p["play_id"], "kind": kind, "period": p["period"]}


def caught(plays: Sequence[dict[str, Any]], tweeted: Sequence[bool], moments: Sequence[dict[str, Any]]) -> list[bool]:
    """For each moment: was its play, or one of the next CATCH_WINDOW plays of its game, tweeted?"""
    position: dict[int, tuple[str, int]] = {}
    games = by_game(plays)
    for game_id, idx in games.items():
        for k, i in enumerate(idx):
            position[i] = (game_id, k)
    out = []
    for m in moments:
        game_id, k = position[m["index"]]
        window = games[game_id][k : k + CATCH_WINDOW + 1]
        out.append(any(tweeted[i] for i in window))
    return out


def is_try(play: dict[str, Any], prev_home: int, prev_away: int) -> bool:
    """An NFL extra point or two-point try: part of the touchdown it follows, not a score of its own."""
    if play["league"] != "NFL":
        return False
    gained = sorted((play["home_score"] - prev_home, play["away_score"] - prev_away))
    text = (play.get("description") or "").upper()
    return gained in ([0, 1], [0, 2]) and ("EXTRA POINT" in text or "TWO-POINT" in text)


def baseline_tweets(plays: Sequence[dict[str, Any]], budget: int, tz: str = "America/New_York") -> list[bool]:
    """The simple rule: every score from the 4th quarter on, first come first served, ``budget`` a day.

    A touchdown and its try (extra point or two-point attempt, a separate play in the feed) are one score,
    tweeted once, when complete: on the try (or on the next play other than a timeout when no try follows).
    """
    used: Counter = Counter()
    last_score: dict[str, tuple[int, int]] = {}
    pending: set[str] = set()  # games with a touchdown whose try is still to come
    out = []
    for play in plays:
        game_id = play["game_id"]
        score = (play["home_score"], play["away_score"])
        prev = last_score.get(game_id, (0, 0))
        last_score[game_id] = score
        if game_id in pending and (is_try(play, *prev) or play["event_type"] != "timeout"):
            pending.discard(game_id)
            scored = True  # the touchdown and its try, complete
        elif score != prev and try_pending(play, *prev):
            pending.add(game_id)
            scored = False
        else:
            scored = score != prev
        key = (play["league"], tweet_budget.slate_of(play["occurred_at"], tz))
        tweet = scored and play["period"] >= LATE_PERIOD and used[key] < budget
        if tweet:
            used[key] += 1
        out.append(tweet)
    return out


def late_scores(plays: Sequence[dict[str, Any]]) -> int:
    """Scores from the 4th quarter on (a touchdown and its try count once): what the baseline rule offers."""
    last_score: dict[str, tuple[int, int]] = {}
    n = 0
    for play in plays:
        score = (play["home_score"], play["away_score"])
        prev = last_score.get(play["game_id"], (0, 0))
        n += score != prev and not is_try(play, *prev) and play["period"] >= LATE_PERIOD
        last_score[play["game_id"]] = score
    return n


def oracle_caught(
    plays: Sequence[dict[str, Any]], moments: Sequence[dict[str, Any]], budget: int, tz: str = "America/New_York"
) -> int:
    """Upper bound: the moments an oracle that knows them in advance catches, tweeting each of them, ``budget`` a
    day per account (one tweet catches one moment: a game's moments lie more than CATCH_WINDOW plays apart)."""
    per_day = Counter((m_play["league"], tweet_budget.slate_of(m_play["occurred_at"], tz)) for m_play in (
        plays[m["index"]] for m in moments))  # fmt: skip
    return sum(min(n, budget) for n in per_day.values())


def oracle_caught_share(
    plays: Sequence[dict[str, Any]], moments: Sequence[dict[str, Any]], budget: int, tz: str = "America/New_York"
) -> float | None:
    """:func:`oracle_caught` as a share of the moments."""
    return round(oracle_caught(plays, moments, budget, tz) / len(moments), 4) if moments else None


def hindsight_value_tweets(
    plays: Sequence[dict[str, Any]],
    unlimited: Sequence[dict[str, Any]],
    budget: int,
    tz: str = "America/New_York",
    key: str = "significance",
) -> list[bool]:
    """The day's ``budget`` most significant candidates, chosen in hindsight from an unlimited-budget backtest's
    decisions: what the significance values alone allow when the whole day's values are known in advance.

    ``key`` "decisive" ranks by the probability of being a decisive moment instead (what the tight budget uses).
    """
    by_day: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
    for i, (play, d) in enumerate(zip(plays, unlimited, strict=True)):
        if d["tweet"] and d[key] > 0:
            by_day[(play["league"], tweet_budget.slate_of(play["occurred_at"], tz))].append((d[key], -i))
    out = [False] * len(plays)
    for candidates in by_day.values():
        for _, neg_i in sorted(candidates, reverse=True)[:budget]:
            out[-neg_i] = True
    return out


def gap_split(moments: int, oracle: int, hindsight: int, caught_online: int) -> dict[str, int]:
    """Where the decisive moments an online policy misses go: ``forced`` (days with more moments than the
    budget: the oracle misses them too), ``ranking`` (the model's probabilities, even known for the whole day in
    advance, rank them below the day's budget) and ``timing`` (the online policy against hindsight with the same
    probabilities)."""
    return {"forced": moments - oracle, "ranking": oracle - hindsight, "timing": hindsight - caught_online}


def miss_diagnosis(
    plays: Sequence[dict[str, Any]],
    decisions: Sequence[dict[str, Any]],
    unlimited: Sequence[dict[str, Any]],
    budget: int,
    tz: str = "America/New_York",
) -> list[dict[str, Any]]:
    """One row per decisive moment the policy missed: its day (moments that day against the budget, tweets used
    and left at day end, tweets that caught a moment), its decisive probability (the highest over its window in
    an unlimited-budget run: what the model gave it), its rank among the day's candidates by that probability,
    and whether the hindsight policy (the day's top ``budget`` probabilities) catches it."""
    moments = decisive_moments(plays)
    tweeted = [d["tweet"] for d in decisions]
    hits = caught(plays, tweeted, moments)
    hindsight = caught(plays, hindsight_value_tweets(plays, unlimited, budget, tz, "decisive"), moments)
    games = by_game(plays)
    position = {i: (game_id, k) for game_id, idx in games.items() for k, i in enumerate(idx)}
    day_of = [tweet_budget.slate_of(p["occurred_at"], tz) for p in plays]
    windows = {m["index"]: games[m["game_id"]][position[m["index"]][1] :][: CATCH_WINDOW + 1] for m in moments}
    catching = {i for window in windows.values() for i in window}
    day_moments = Counter(day_of[m["index"]] for m in moments)
    day_tweets: Counter = Counter()
    day_on_moments: Counter = Counter()
    for i, t in enumerate(tweeted):
        if t:
            day_tweets[day_of[i]] += 1
            day_on_moments[day_of[i]] += i in catching
    candidates: dict[str, list[float]] = defaultdict(list)
    for i, d in enumerate(unlimited):
        if d["tweet"] and d["decisive"] > 0:
            candidates[day_of[i]].append(d["decisive"])
    rows = []
    for m, hit, known in zip(moments, hits, hindsight, strict=True):
        if hit:
            continue
        play, day = plays[m["index"]], day_of[m["index"]]
        probability = max(unlimited[i]["decisive"] for i in windows[m["index"]])
        rows.append(
            {
                "day": day,
                "game_id": m["game_id"],
                "play_id": m["play_id"],
                "kind": m["kind"],
                "period": play["period"],
                "clock_seconds": play["clock_seconds"],
                "day_moments": day_moments[day],
                "day_tweets": day_tweets[day],
                "day_unused": max(0, budget - day_tweets[day]),
                "day_tweets_on_moments": day_on_moments[day],
                "decisive": round(probability, 4),
                "rank": 1 + sum(1 for x in candidates[day] if x > probability),
                "day_candidates": len(candidates[day]),
                "hindsight_caught": known,
            }
        )
    return rows


def garbage_share(plays: Sequence[dict[str, Any]], tweeted: Sequence[bool]) -> float:
    """Share of tweets sent in garbage time (NFL 4th quarter lead 17+, NBA/WNBA last 5 minutes lead 15+)."""
    sent = [p for p, t in zip(plays, tweeted, strict=True) if t]
    if not sent:
        return 0.0
    garbage = sum(
        is_garbage_time(p["league"], p["period"], p["clock_seconds"], p["home_score"] - p["away_score"]) for p in sent
    )
    return garbage / len(sent)


def most_in_24_hours(plays: Sequence[dict[str, Any]], tweeted: Sequence[bool]) -> dict[str, int]:
    """The most tweets each account (league) made in any rolling 24 hours (X's per-user window)."""
    times: dict[str, list[float]] = defaultdict(list)
    for play, t in zip(plays, tweeted, strict=True):
        if t:
            times[play["league"]].append(tweet_budget.epoch(play["occurred_at"]))
    most: dict[str, int] = {}
    for league, at in times.items():
        at.sort()
        first, best = 0, 0
        for last, moment in enumerate(at):  # the window ending at each tweet: (moment - 24 h, moment]
            while at[first] <= moment - tweet_budget.WINDOW_SECONDS:
                first += 1
            best = max(best, last - first + 1)
        most[league] = best
    return dict(sorted(most.items()))


def tweets_per_day(plays: Sequence[dict[str, Any]], tweeted: Sequence[bool], tz: str = "America/New_York") -> dict:
    """Tweets per (account league, slate), for slates with at least one play."""
    days: Counter = Counter()
    for play, t in zip(plays, tweeted, strict=True):
        key = (play["league"], tweet_budget.slate_of(play["occurred_at"], tz))
        days[key] += int(t)
    return dict(days)


CLOSE_MARGIN = {"NFL": 8, "NBA": 5, "WNBA": 5}  # a final margin this small or smaller: a close game
BUSY_DAY_GAMES = 8


def close_game_coverage(plays: Sequence[dict[str, Any]], tweeted: Sequence[bool]) -> dict[str, Any]:
    """Close games (final margin within CLOSE_MARGIN of the league) with at least one tweet about them."""
    last: dict[str, dict[str, Any]] = {}
    with_tweet: set[str] = set()
    for play, t in zip(plays, tweeted, strict=True):
        last[play["game_id"]] = play
        if t:
            with_tweet.add(play["game_id"])
    close = [
        gid for gid, p in last.items() if abs(p["home_score"] - p["away_score"]) <= CLOSE_MARGIN.get(p["league"], 5)
    ]
    covered = sum(1 for gid in close if gid in with_tweet)
    return {
        "close_games": len(close),
        "close_games_tweeted": covered,
        "share": round(covered / len(close), 4) if close else None,
    }


def busy_day_budget_use(
    plays: Sequence[dict[str, Any]],
    tweeted: Sequence[bool],
    budget: int,
    tz: str = "America/New_York",
    min_games: int = BUSY_DAY_GAMES,
) -> dict[str, Any]:
    """Tweets used on the days (account, slate of a game's first play) with ``min_games`` games or more, as a
    share of their budget."""
    day_of_game: dict[str, tuple[str, str]] = {}
    for play in plays:
        if play["game_id"] not in day_of_game:
            day_of_game[play["game_id"]] = (play["league"], tweet_budget.slate_of(play["occurred_at"], tz))
    games_per_day = Counter(day_of_game.values())
    busy = {day for day, n in games_per_day.items() if n >= min_games}
    used = sum(1 for play, t in zip(plays, tweeted, strict=True) if t and day_of_game[play["game_id"]] in busy)
    return {
        "days": len(busy),
        "tweets": used,
        "used_share": round(used / (budget * len(busy)), 4) if busy else None,
    }


def brier(plays: Sequence[dict[str, Any]], win_probs: Sequence[float]) -> float:
    """Brier score of the per-play home win probabilities against each game's result in the input."""
    outcomes = fitting.game_outcomes(plays)
    return fitting.brier(win_probs, [outcomes[p["game_id"]] for p in plays])


def summarize(
    plays: Sequence[dict[str, Any]], tweeted: Sequence[bool], win_probs: Sequence[float], tz: str = "America/New_York"
) -> dict[str, Any]:
    """Tweets per day, decisive moments caught, garbage-time share and Brier score."""
    moments = decisive_moments(plays)
    hits = caught(plays, tweeted, moments)
    per_day = tweets_per_day(plays, tweeted, tz)
    counts = sorted(per_day.values())
    return {
        "plays": len(plays),
        "tweets": int(sum(tweeted)),
        "days": len(per_day),
        "tweets_per_day_mean": round(sum(per_day.values()) / len(per_day), 2) if per_day else 0.0,
        "tweets_per_day_max": max(per_day.values()) if per_day else 0,
        "tweets_per_day_median": float(median(counts)) if counts else 0.0,
        "most_in_24_hours": most_in_24_hours(plays, tweeted),
        "decisive_moments": len(moments),
        "decisive_caught": int(sum(hits)),
        "decisive_caught_share": round(sum(hits) / len(moments), 4) if moments else None,
        "garbage_share": round(garbage_share(plays, tweeted), 4),
        "brier": round(brier(plays, win_probs), 5) if plays else None,
    }


def evaluate_season(
    plays: Sequence[dict[str, Any]],
    schedule: Sequence[dict[str, Any]],
    budgets: Sequence[int] = (17, 6),
    tz: str = "America/New_York",
) -> dict[str, Any]:
    """Backtest ``plays`` at each budget and compare with the baseline rule; also the WP Brier/calibration."""
    from streams.games import backtest as plays_backtest

    moments = decisive_moments(plays)
    report: dict[str, Any] = {"plays": len(plays), "decisive_moments": len(moments), "budgets": {}}
    kinds = Counter(m["kind"] for m in moments)
    report["decisive_moment_kinds"] = dict(kinds)
    win_probs: list[float] = []
    unlimited = list(plays_backtest.run(plays, schedule, 10**6, tz))
    for budget in budgets:
        decisions = list(plays_backtest.run(plays, schedule, budget, tz))
        tweeted = [d["tweet"] for d in decisions]
        win_probs = [d["win_prob_home"] for d in decisions]
        ours = summarize(plays, tweeted, win_probs, tz)
        base = baseline_tweets(plays, budget, tz)
        base_hits = caught(plays, base, moments)
        styles = Counter(d["style"] for d in decisions if d["tweet"])
        hindsight_hits = caught(plays, hindsight_value_tweets(plays, unlimited, budget, tz, "decisive"), moments)
        oracle = oracle_caught(plays, moments, budget, tz)
        report["budgets"][str(budget)] = {
            "ours": ours,
            "baseline_caught_share": round(sum(base_hits) / len(moments), 4) if moments else None,
            "baseline_garbage_share": round(garbage_share(plays, base), 4),
            "baseline_late_scores_tweeted_share": round(sum(base) / late_scores(plays), 4)
            if late_scores(plays)
            else None,
            "oracle_caught_share": round(oracle / len(moments), 4) if moments else None,
            "hindsight_value_caught_share": _share(
                caught(plays, hindsight_value_tweets(plays, unlimited, budget, tz), moments)
            ),
            "hindsight_decisive_caught_share": _share(hindsight_hits),
            "styles": dict(styles),
            "caught_by_kind": _caught_by_kind(moments, caught(plays, tweeted, moments)),
            "gap": gap_split(len(moments), oracle, sum(hindsight_hits), ours["decisive_caught"]),
            "close_game_coverage": close_game_coverage(plays, tweeted),
            "busy_day_budget_use": busy_day_budget_use(plays, tweeted, budget, tz),
            "misses": miss_diagnosis(plays, decisions, unlimited, budget, tz),
        }
    outcomes = fitting.game_outcomes(plays)
    labels = [outcomes[p["game_id"]] for p in plays]
    report["brier"] = round(fitting.brier(win_probs, labels), 5)
    report["calibration"] = fitting.calibration(win_probs, labels)
    return report


def _share(hits: Sequence[bool]) -> float | None:
    return round(sum(hits) / len(hits), 4) if hits else None


def _caught_by_kind(moments: Sequence[dict[str, Any]], hits: Sequence[bool]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for m, hit in zip(moments, hits, strict=True):
        row = out.setdefault(m["kind"], [0, 0])
        row[0] += int(hit)
        row[1] += 1
    return out
