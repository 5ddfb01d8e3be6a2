"""``wirereport backtest scaling --input LOAD.jsonl --out SCALING.jsonl``: the scaling policy, offline."""

from __future__ import annotations

import json
import sys
import time

from connectors.backtest.from_topic import SAMPLES_ORDER, add_topic_arguments
from connectors.exceptions import InputError, InvalidInputLines
from connectors.jsonl import open_text, write_jsonl


def add_policy_arguments(p) -> None:
    """Policy flags shared by ``backtest scaling``, ``report scaling`` and ``bench scaling``."""
    p.add_argument("--capacity-per-agent", type=float, help="work units/s per agent (settings default)")
    p.add_argument("--target-utilization", type=float, help="planned utilization, 0-1 (default 0.7)")
    p.add_argument("--min-agents", type=int, help="fewest agents (default 1)")
    p.add_argument("--max-agents", type=int, help="most agents (default 150)")
    p.add_argument(
        "--headroom-quantile",
        type=float,
        help="forecast-error quantile used as headroom (default: the league profile's scaling_sensitivity, NBA 0.7)",
    )
    p.add_argument("--down-cooldown", type=float, help="seconds before a scale-down, and its window (300)")
    p.add_argument("--models", help="comma-separated forecasting models (settings default)")
    p.add_argument(
        "--no-error-correction",
        action="store_true",
        help="forecast without the AR(1) adjustment of the chosen model's one-step errors",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="bound decisions by each league's profile, as the worker does (floors, ceilings, peak hours, season)",
    )
    p.add_argument(
        "--events", help="ScheduledGame / LeagueEvent JSON lines, known in advance (pre-scaling, event scaling)"
    )


def _profiles(settings) -> dict:
    """The league profiles of the settings (a bad ``WIREREPORT_SCALING_PROFILES`` is an InputError)."""
    from streams.scaling.league_profiles import load_profiles

    try:
        return load_profiles(settings.scaling_profiles)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def context_from_args(args) -> dict:
    """``run_backtest`` keywords for ``--profile`` and ``--events`` (bad lines are one InputError)."""
    from connectors.jsonl import read_jsonl
    from schemas.exceptions import SchemaError
    from schemas.json_form import from_json
    from streams.exceptions import InvalidRecord
    from streams.scaling.validation import validate_scaling_input
    from streams.settings import get_settings

    context: dict = {}
    if args.profile:
        context["profiles"] = _profiles(get_settings())
    if args.events:
        events = []
        try:
            for number, obj in read_jsonl(args.events):
                try:
                    if isinstance(obj, Exception):
                        raise obj
                    schema = "ScheduledGame" if isinstance(obj, dict) and "scheduled_start" in obj else "LeagueEvent"
                    record = from_json(schema, obj)
                    validate_scaling_input(schema, record)
                    events.append(record)
                except (SchemaError, InvalidRecord, ValueError) as exc:
                    raise InputError(f"{args.events}:{number}: {exc}") from None
        except FileNotFoundError:
            raise InputError(f"{args.events}: no such file") from None
        context["events"] = events
    return context


def register(subparsers) -> None:
    p = subparsers.add_parser("scaling", help="replay a load trace through the scaling policy and references")
    p.add_argument("--input", help="LoadSample JSON lines (.gz ok, - for stdin)")
    add_topic_arguments(p, "system-metrics", SAMPLES_ORDER)
    p.add_argument(
        "--interval",
        type=float,
        help="with --from-topic: seconds per sample (default WIREREPORT_METRICS_INTERVAL_SECONDS)",
    )
    p.add_argument("--out", required=True, help="one decision per sample as JSON lines (- for stdout)")
    p.add_argument("--summary", help="also write the comparison as JSON to this file")
    add_policy_arguments(p)
    p.set_defaults(func=run)


def policy_from_args(args):
    """(PolicyConfig, models, headroom quantile) from flags over settings; bad values are InputError."""
    from streams.scaling.forecasting.ensemble import build_model
    from streams.scaling.policy import PolicyConfig
    from streams.settings import get_settings

    settings = get_settings()
    try:
        config = PolicyConfig.from_settings(
            settings,
            capacity_per_agent=args.capacity_per_agent,
            target_utilization=args.target_utilization,
            min_agents=args.min_agents,
            max_agents=args.max_agents,
            down_cooldown_seconds=args.down_cooldown,
            forecast_only=False,
        )
        models = tuple(m.strip() for m in (args.models or settings.scaling_models).split(",") if m.strip())
        for name in models:
            build_model(name, 300.0)
    except (ValueError, TypeError) as exc:
        raise InputError(str(exc)) from None
    quantile = args.headroom_quantile if args.headroom_quantile is not None else settings.scaling_headroom_quantile
    if quantile is None:  # each league's profile sensitivity, as in the worker
        return config, models, {league: p.scaling_sensitivity for league, p in _profiles(settings).items()}
    if not 0 < quantile < 1:
        raise InputError("--headroom-quantile must be between 0 and 1")
    return config, models, quantile


def decision_row(row: dict) -> dict:
    forecast = row["forecast"]
    return {**row, "forecast": None if forecast is None else round(forecast, 6)}


def input_samples(args, bad: list[str]) -> list[dict]:
    """The load samples: of the file, or of the SystemMetrics of ``--from-topic``."""
    from connectors.backtest.from_topic import samples_from_topic
    from connectors.sources.importers.load_io import read_samples

    if (args.input is None) == (args.from_topic is None):
        raise InputError("give either --input FILE or --from-topic TOPIC")
    return list(read_samples(args.input, bad)) if args.input is not None else samples_from_topic(args, bad)


def run(args) -> int:
    from streams.scaling.backtest import format_table, run_backtest

    config, models, quantile = policy_from_args(args)
    bad: list[str] = []
    samples = input_samples(args, bad)
    if not samples:
        source = args.input or args.from_topic
        raise InputError(f"{source}: no valid load samples" + (f" (first problem: {bad[0]})" if bad else ""))
    start = time.perf_counter()
    result = run_backtest(
        samples,
        config,
        models=models,
        headroom_quantile=quantile,
        error_correction=not args.no_error_correction,
        **context_from_args(args),
    )
    elapsed = time.perf_counter() - start
    with open_text(args.out, "w") as out:
        write_jsonl(out, (decision_row(row) for row in result.rows))
        out.flush()
    report = sys.stdout if args.out != "-" else sys.stderr
    for line in format_table(result):
        print(line, file=report)
    for league, accuracy in result.forecast_accuracy.items():
        one = accuracy["one_step"]
        mae = "n/a" if one["mae"] is None else f"{one['mae']:.4g}"
        mape = "n/a" if one["mape"] is None else f"{one['mape']:.1%}"
        print(f"forecast {league}: model {accuracy['model']}, one-step MAE {mae}, MAPE {mape}", file=report)
    rate = f"{result.samples / elapsed:,.0f} samples/s" if elapsed > 0 else "n/a"
    print(f"{result.samples} samples in {elapsed:.2f}s ({rate})", file=report)
    if args.summary:
        with open_text(args.summary, "w") as fh:
            json.dump(
                {
                    "samples": result.samples,
                    "days": result.days,
                    "policies": result.scores,
                    "targets": result.targets(),
                    "forecast": result.forecast_accuracy,
                },
                fh,
                indent=2,
            )
    if bad:
        for line in bad[:10]:
            print(f"wirereport: invalid input {line}", file=sys.stderr)
        raise InvalidInputLines(f"{len(bad)} invalid input line(s) skipped (first: {bad[0]})")
    return 0
