"""``wirereport backtest plays --compare``: the candidate's tweets beside the live pipeline's ``tweet-commands``."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TextIO

TEXT_WIDTH = 70  # the table shows the start of a tweet; the JSON lines carry all of it


def add_compare_arguments(p) -> None:
    p.add_argument(
        "--compare",
        action="store_true",
        help="list where the decisions differ from what tweet-commands holds for the same plays (live tweets): "
        "gained, lost, moved; a table on stdout, and the differences as JSON lines in --out",
    )
    p.add_argument(
        "--moved-within",
        type=int,
        default=10,
        metavar="N",
        help="a candidate tweet at most N plays of its game away from a live one is that tweet moved (default 10)",
    )


def live_commands(bad: list[str]) -> list[dict[str, Any]]:
    """Every TweetCommand of ``tweet-commands`` (the live pipeline's), in the broker's order."""
    from connectors.backtest.from_topic import topic_records

    return [record for _, _, record in topic_records("tweet-commands", ["TweetCommand"], bad)]


def compare(args, plays: list[dict[str, Any]], decisions: list[dict[str, Any]], bad: list[str]) -> list[dict]:
    """Print the differences with live as a table and write them to ``--out`` (if given) as JSON lines."""
    from connectors.exceptions import InputError
    from connectors.jsonl import write_jsonl
    from streams.games.compare import differences

    if args.moved_within < 0:
        raise InputError("--moved-within must be 0 or more plays")
    live = live_commands(bad)
    candidate = [d["command"] for d in decisions if d["command"]]
    found = differences(plays, candidate, live, args.moved_within)
    if args.out:
        write_jsonl(args.out, found)
    report = sys.stderr if args.out == "-" else sys.stdout
    in_plays = {(p["game_id"], p["play_id"]) for p in plays}
    live_here = {c["command_id"] for c in live if (c["game_id"], c["play_id"]) in in_plays}
    print_table(found, len(live_here), len(candidate), len(plays), report)
    return found


def print_table(found: Iterable[dict[str, Any]], live: int, candidate: int, plays: int, out: TextIO) -> None:
    found = list(found)
    counts = {kind: sum(1 for d in found if d["kind"] == kind) for kind in ("gained", "lost", "moved")}
    print(
        f"compare with tweet-commands over {plays} plays: live {live} tweets, candidate {candidate}; "
        f"{counts['gained']} gained, {counts['lost']} lost, {counts['moved']} moved",
        file=out,
    )
    if not found:
        return
    rows = [("kind", "account", "game", "play", "live play", "text")]
    for d in found:
        text = d["text"].replace("\n", " ")
        text = text if len(text) <= TEXT_WIDTH else text[: TEXT_WIDTH - 1] + "…"
        rows.append((d["kind"], d["account"], d["game_id"], d["play_id"] or "-", d["live_play_id"] or "-", text))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[5], file=out)
