"""``wirereport report plays --season 2018 --out DIR``: the tweet decisions evaluated on a real season."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from connectors.exceptions import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser("plays", help="evaluate tweet decisions on a real NFL season, with plots")
    p.add_argument("--season", type=int, default=2018, help="NFL season (default 2018, the validation season)")
    p.add_argument("--budgets", default="17,6", help="daily budgets to evaluate (default 17,6)")
    p.add_argument("--out", required=True, help="folder for summary.json, summary.md and the PNG plots")
    p.add_argument(
        "--strip-game-end",
        action="store_true",
        help="drop the game_end records, as a feed that never sends them (the ends are then inferred)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from connectors.reports.plays import render
    from connectors.sources.importers import nfl
    from connectors.sources.importers.nfl_seasons import season_plays, season_schedule
    from streams.games import backtest as plays_backtest
    from streams.games import evaluation as plays_evaluation

    try:
        budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    except ValueError:
        raise InputError(f"--budgets: expected numbers like 17,6, got {args.budgets!r}") from None
    print(f"importing the {args.season} season ...", file=sys.stderr)
    plays = nfl.merge_by_time([season_plays(args.season)])
    if not plays:
        raise InputError(f"no NFL plays for season {args.season}")
    if args.strip_game_end:
        plays = strip_game_end(plays)
    schedule = season_schedule(args.season)
    plays, refused = without_refused(plays, schedule, plays_backtest)
    for line in refused:
        print(f"refused (the worker would dead-letter it): {line}", file=sys.stderr)
    report = plays_evaluation.evaluate_season(plays, schedule, budgets)
    report["season"] = args.season
    report["refused"] = refused
    report["game_end_stripped"] = bool(args.strip_game_end)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    example = _example_game(plays, schedule, budgets[0], plays_backtest, plays_evaluation)
    files = render(report, out, example)
    (out / "summary.json").write_text(json.dumps(report, indent=2) + "\n")
    text = summary_markdown(report)
    (out / "summary.md").write_text(text)
    print(text)
    print("wrote " + ", ".join(str(f) for f in [out / "summary.json", out / "summary.md", *files]))
    return 0


def without_refused(plays: list[dict], schedule: list[dict], plays_backtest) -> tuple[list[dict], list[str]]:
    """The plays without those their game refuses (a play after the final, a score going down ...: the worker
    dead-letters them, so nothing is decided on them), and one line per refused play saying why."""
    refused: dict[int, str] = {}

    def refuse(position: int, exc: Exception) -> None:
        play = plays[position]
        refused[position] = f"game {play['game_id']} play {play['play_id']}: {exc}"

    for _ in plays_backtest.run(plays, schedule, 10**6, refused=refuse):
        pass
    return [p for i, p in enumerate(plays) if i not in refused], list(refused.values())


def strip_game_end(plays: list[dict]) -> list[dict]:
    """The plays without their ``game_end`` records (the evaluation's decisive moments do not depend on them)."""
    return [p for p in plays if p["event_type"] != "game_end"]


def _example_game(plays, schedule, budget, plays_backtest, plays_evaluation) -> dict | None:
    """The first game with an equalizer forcing overtime (else a late go-ahead), with its decisions."""
    moments = plays_evaluation.decisive_moments(plays)
    if not moments:
        return None
    pick = next((m for m in moments if m["kind"] == "equalizer_forcing_overtime"), moments[0])
    decisions = list(plays_backtest.run(plays, schedule, budget))
    idx = [i for i, p in enumerate(plays) if p["game_id"] == pick["game_id"]]
    decisive = [idx.index(m["index"]) for m in moments if m["game_id"] == pick["game_id"]]
    return {"plays": [plays[i] for i in idx], "decisions": [decisions[i] for i in idx], "decisive": decisive}


def summary_markdown(report: dict) -> str:
    stripped = " (game_end records stripped: the ends inferred)" if report.get("game_end_stripped") else ""
    lines = [
        f"# Tweet decisions on the NFL {report['season']} season{stripped}",
        "",
        f"{report['plays']} plays, {report['decisive_moments']} decisive moments "
        f"({', '.join(f'{n} {k}' for k, n in report['decisive_moment_kinds'].items())}).",
        f"Win probability Brier score: {report['brier']:.4f}.",
        *_refused_markdown(report.get("refused") or []),
        "",
        "| budget/day | caught | oracle bound | top values in hindsight | top decisive probabilities in hindsight "
        "| baseline caught | baseline: late scores tweeted | garbage-time tweets | tweets/slate (mean, median) "
        "| most in any 24 hours |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for budget, row in report["budgets"].items():
        ours = row["ours"]
        lines.append(
            f"| {budget} | {ours['decisive_caught']}/{ours['decisive_moments']} ({ours['decisive_caught_share']:.1%}) "
            f"| {row['oracle_caught_share']:.1%} | {row['hindsight_value_caught_share']:.1%} "
            f"| {row['hindsight_decisive_caught_share']:.1%} | {row['baseline_caught_share']:.1%} "
            f"| {row['baseline_late_scores_tweeted_share']:.1%} | {ours['garbage_share']:.1%} "
            f"| {ours['tweets_per_day_mean']}, {ours['tweets_per_day_median']:g} "
            f"| {', '.join(f'{a} {n}' for a, n in ours['most_in_24_hours'].items()) or 'none'} |"
        )
    lines += _coverage_markdown(report)
    for budget, row in report["budgets"].items():
        lines += _misses_markdown(budget, row)
    lines += ["", "Calibration (predicted vs observed home win rate):", ""]
    for r in report["calibration"]:
        if r["plays"]:
            lines.append(
                f"- {r['bin']}: {r['plays']} plays, predicted {r['predicted']:.3f}, observed {r['observed']:.3f}"
            )
    return "\n".join(lines) + "\n"


def _refused_markdown(refused: list[str]) -> list[str]:
    if not refused:
        return []
    shown = "; ".join(refused[:5]) + (f"; and {len(refused) - 5} more" if len(refused) > 5 else "")
    return ["", f"{len(refused)} plays refused by their game (dead letters in the worker; not decided): {shown}."]


def _misses_markdown(budget: str, row: dict) -> list[str]:
    """The decisive moments missed at a budget: where the gap goes, and one line per miss."""
    gap, misses = row.get("gap"), row.get("misses") or []
    if gap is None or not misses:
        return []
    lines = [
        "",
        f"Missed at {budget}/day: {len(misses)} ({gap['forced']} forced: days with more decisive moments than "
        f"{budget}; {gap['ranking']} ranking: below the day's top {budget} probabilities even in hindsight; "
        f"{gap['timing']} timing: the online policy against hindsight with the same probabilities).",
        "",
        "| day | moments / tweets / unused / on moments | missed moment | decisive probability | rank that day "
        "| caught in hindsight |",
        "|---|---|---|---|---|---|",
    ]
    for m in misses:
        clock = f"{m['clock_seconds'] // 60}:{m['clock_seconds'] % 60:02d}"
        lines.append(
            f"| {m['day']} | {m['day_moments']} / {m['day_tweets']} / {m['day_unused']} / "
            f"{m['day_tweets_on_moments']} | {m['game_id']} {m['kind']}, Q{m['period']} {clock} "
            f"| {m['decisive']:.3f} | {m['rank']} of {m['day_candidates']} | {'yes' if m['hindsight_caught'] else 'no'} |"
        )
    return lines


def _coverage_markdown(report: dict) -> list[str]:
    """Close games with at least one tweet, and the budget used on busy days, per budget."""
    rows = [(b, r["close_game_coverage"], r["busy_day_budget_use"]) for b, r in report["budgets"].items()
            if "close_game_coverage" in r]  # fmt: skip
    if not rows:
        return []
    lines = [
        "",
        "| budget/day | close games (final margin <= 8) with a tweet | budget used on days with 8+ games |",
        "|---|---|---|",
    ]
    for budget, close, busy in rows:
        close_text = f"{close['close_games_tweeted']}/{close['close_games']}" + (
            f" ({close['share']:.1%})" if close["share"] is not None else ""
        )
        busy_text = (
            f"{busy['tweets']} of {int(budget) * busy['days']} over {busy['days']} days ({busy['used_share']:.1%})"
            if busy["used_share"] is not None
            else "no such day"
        )
        lines.append(f"| {budget} | {close_text} | {busy_text} |")
    return lines
