"""``wirereport backtest plays --input PLAYS.jsonl[.gz] [--schedule S.jsonl] [--budget N] --out D.jsonl``.

``--from-topic plays`` reads the plays from the broker instead (``connectors/backtest/from_topic.py`` says in
which order), ``--compare`` lists where the decisions differ from the live ``tweet-commands``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from connectors.backtest.compare import add_compare_arguments
from connectors.backtest.from_topic import PLAYS_ORDER, add_topic_arguments
from connectors.exceptions import InputError, InvalidInputLines


def register(subparsers) -> None:
    p = subparsers.add_parser("plays", help="replay Play JSON lines through the game agent's decisions")
    p.add_argument("--input", help="Play JSON lines (.gz ok)")
    add_topic_arguments(p, "plays", PLAYS_ORDER)
    p.add_argument("--schedule", help="ScheduledGame JSON lines of the days played (lets the budget plan ahead)")
    p.add_argument(
        "--schedule-topic",
        default="league-events",
        help="with --from-topic and no --schedule: the topic whose ScheduledGame records are the schedule "
        "(default league-events, read whole)",
    )
    p.add_argument(
        "--budget",
        type=int,
        help="tweets per account per slate and in any 24 hours (default WIREREPORT_TWEETS_PER_DAY, 17)",
    )
    p.add_argument(
        "--out",
        help="decisions as JSON lines, one per valid input play (bad ones are reported as FILE:LINE: reason; - for"
        " stdout); with --compare the differences",
    )
    add_compare_arguments(p)
    p.add_argument("--commands", help="also write the TweetCommands the agent would send (JSON lines)")
    p.set_defaults(func=run)


def read_records(path: str, schema: str, bad: list[str], numbers: list[int] | None = None) -> list[dict[str, Any]]:
    """Valid JSON objects of a JSON-lines file, checked against ``schema`` and its domain bounds; bad lines are
    collected (``numbers``, if given, gets the line number of each valid one)."""
    from connectors.jsonl import read_jsonl
    from schemas.exceptions import SchemaError
    from schemas.json_form import from_json
    from streams.exceptions import InvalidRecord
    from streams.games.game_state import validate_play, validate_scheduled_game

    checks = {"Play": validate_play, "ScheduledGame": validate_scheduled_game}

    records = []
    try:
        for number, obj in read_jsonl(path):
            if isinstance(obj, Exception):
                bad.append(f"{path}:{number}: {obj}")
                continue
            try:
                record = from_json(schema, obj)
                if schema in checks:
                    checks[schema](record)
            except (SchemaError, InvalidRecord) as exc:
                bad.append(f"{path}:{number}: {exc}")
                continue
            records.append(obj)
            if numbers is not None:
                numbers.append(number)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    return records


def input_records(args, bad: list[str], numbers: list[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(plays, schedule): from the files, or from the broker with ``--from-topic``; ``numbers`` gets each play's
    line in its file (its position in the topic's read order with ``--from-topic``), for error reports."""
    from connectors.backtest import from_topic

    if (args.input is None) == (args.from_topic is None):
        raise InputError("give either --input FILE or --from-topic TOPIC")
    if args.from_topic is None:
        plays = read_records(args.input, "Play", bad, numbers)
        return plays, read_records(args.schedule, "ScheduledGame", bad) if args.schedule else []
    plays = from_topic.plays_from_topic(args, bad)
    numbers.extend(range(1, len(plays) + 1))
    if args.schedule:
        return plays, read_records(args.schedule, "ScheduledGame", bad)
    return plays, from_topic.schedule_from_topic(args.schedule_topic, bad)


def run(args) -> int:
    from connectors.jsonl import open_text, write_jsonl
    from schemas.json_form import from_json, to_json
    from streams.games import backtest as plays_backtest
    from streams.games import evaluation as plays_evaluation
    from streams.settings import get_settings

    settings = get_settings()
    budget = args.budget if args.budget is not None else settings.tweets_per_day
    if budget < 0:
        raise InputError("--budget must be 0 or more")
    if args.out is None and not args.compare:
        raise InputError("--out is required (unless --compare)")
    bad: list[str] = []
    numbers: list[int] = []
    plays, schedule = input_records(args, bad, numbers)
    plays_backtest.preload(plays)
    refused: list[int] = []

    def refuse(position: int, exc: Exception) -> None:  # the game refuses it: the agent would dead-letter it
        refused.append(position)
        bad.append(f"{args.input or args.from_topic}:{numbers[position]}: {exc}")

    started = time.perf_counter()
    decisions = list(plays_backtest.run(plays, schedule, budget, settings.tweet_timezone, refuse))
    elapsed = time.perf_counter() - started
    if refused:
        dropped = set(refused)
        plays = [play for position, play in enumerate(plays) if position not in dropped]
    if args.compare:
        from connectors.backtest.compare import compare

        compare(args, plays, decisions, bad)
    else:
        with open_text(args.out, "w") as out:
            for decision in decisions:
                out.write(json.dumps(plays_backtest.output_line(decision), separators=(",", ":")) + "\n")
    if args.commands:
        commands = (d["command"] for d in decisions if d["command"])
        write_jsonl(args.commands, (to_json("TweetCommand", from_json("TweetCommand", c)) for c in commands))
    tweeted = [d["tweet"] for d in decisions]
    summary = plays_evaluation.summarize(
        plays, tweeted, [d["win_prob_home"] for d in decisions], settings.tweet_timezone
    )
    print(format_summary(summary, budget, len(plays) / elapsed if elapsed > 0 else 0.0), file=sys.stderr)
    if bad:
        for line in bad[:10]:
            print(f"wirereport: invalid input {line}", file=sys.stderr)
        raise InvalidInputLines(f"{len(bad)} invalid input line(s) skipped (first: {bad[0]})")
    return 0


def format_summary(s: dict[str, Any], budget: int, rate: float) -> str:
    caught = s["decisive_caught_share"]
    caught_text = f"{s['decisive_caught']}/{s['decisive_moments']} ({caught:.0%})" if caught is not None else "none"
    brier = f"{s['brier']:.4f}" if s["brier"] is not None else "n/a"
    most = ", ".join(f"{account} {n}" for account, n in s["most_in_24_hours"].items()) or "none"
    return (
        f"backtest plays: {s['plays']} plays, {s['tweets']} tweets over {s['days']} slate(s) "
        f"(budget {budget}/slate; mean {s['tweets_per_day_mean']}, max {s['tweets_per_day_max']} a slate)\n"
        f"  most tweets in any 24 hours: {most} (limit {budget})\n"
        f"  decisive moments caught: {caught_text}; tweets in garbage time: {s['garbage_share']:.1%}\n"
        f"  win probability Brier score: {brier}; {rate:,.0f} plays/s ({1e6 / rate if rate else 0:.1f} µs a play)"
    )
