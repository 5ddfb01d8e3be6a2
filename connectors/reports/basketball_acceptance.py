"""Acceptance of the basketball decisions on simulated nights (fixed seeds; docs/basketball-decisions.md).

``python -m connectors.reports.basketball_acceptance --seed 1001 --nights 20`` decides every night on its own
(a fresh account: budget and rolling window), as a night fed alone would be, and prints one JSON line per league
and kind of night: decisive moments caught, the bound of the day's top decisive probabilities in hindsight,
tweets a night and the most tweets about one game before its 4th quarter. Seeds 1-5 train the models (``wirereport
train ... --from-simulation``), 2-3 tuned the budget's basketball constants; report seeds from 1001 on.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import date, timedelta
from typing import Any

from connectors.sources.simulation.basketball import simulate_slate
from streams.games import backtest, evaluation

FIRST_NIGHT = date(2024, 1, 2)
UNLIMITED = 10**6


def evaluate_nights(
    league: str, kind: str, nights: int, seed: int, games: int | None = None, budget: int = 17
) -> dict[str, Any]:
    """The decisions on ``nights`` simulated nights of a kind, each night decided alone."""
    plays: list[dict[str, Any]] = []
    tweeted: list[bool] = []
    unlimited: list[dict[str, Any]] = []
    for offset in range(nights):
        schedule, night = simulate_slate(league, games, FIRST_NIGHT + timedelta(days=offset), seed, kind)
        tweeted += [d["tweet"] for d in backtest.run(night, schedule, budget)]
        unlimited += list(backtest.run(night, schedule, UNLIMITED))
        plays += night
    moments = evaluation.decisive_moments(plays)
    hits = evaluation.caught(plays, tweeted, moments)
    top = evaluation.hindsight_value_tweets(plays, unlimited, budget, key="decisive")
    hindsight = evaluation.caught(plays, top, moments)
    early = Counter(p["game_id"] for p, t in zip(plays, tweeted, strict=True) if t and p["period"] < 4)
    by_kind: dict[str, list[int]] = {}
    for m, hit in zip(moments, hits, strict=True):
        row = by_kind.setdefault(m["kind"], [0, 0])
        row[0] += int(hit)
        row[1] += 1
    return {
        "league": league,
        "kind": kind if games is None else f"{kind}, {games} game(s)",
        "seed": seed,
        "nights": nights,
        "budget": budget,
        "decisive_moments": len(moments),
        "caught": sum(hits),
        "caught_share": round(sum(hits) / len(moments), 4) if moments else None,
        "hindsight_share": round(sum(hindsight) / len(moments), 4) if moments else None,
        "caught_by_kind": by_kind,
        "tweets_per_night": round(sum(tweeted) / nights, 2),
        "most_tweets_about_a_game_before_its_4th_quarter": max(early.values(), default=0),
        "garbage_share": round(evaluation.garbage_share(plays, tweeted), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1001)
    parser.add_argument("--nights", type=int, default=20, help="full nights; one-game kinds use 3 times as many")
    parser.add_argument("--leagues", default="NBA,WNBA")
    args = parser.parse_args(argv)
    for league in args.leagues.split(","):
        rows = [
            evaluate_nights(league, "full", args.nights, args.seed),
            evaluate_nights(league, "one-game", 3 * args.nights, args.seed),
            evaluate_nights(league, "overtime-heavy", 3 * args.nights, args.seed, games=1),
        ]
        for row in rows:
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
