"""``wirereport report scaling --input LOAD.jsonl --out DIR``: plots of the scaling backtest."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from connectors.cli.backtest_scaling import add_policy_arguments, context_from_args, policy_from_args
from connectors.exceptions import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser("scaling", help="plot capacity vs workload of the scaling policy and references")
    p.add_argument("--input", required=True, help="LoadSample JSON lines")
    p.add_argument("--out", required=True, help="folder for the PNG plots and summary.json")
    p.add_argument("--days", type=float, default=7.0, help="days shown in the detail plot (default 7)")
    add_policy_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from connectors.reports.scaling import render_scaling_report
    from connectors.sources.importers.load_io import read_samples
    from streams.scaling.backtest import format_table, run_backtest

    config, models, quantile = policy_from_args(args)
    bad: list[str] = []
    samples = list(read_samples(args.input, bad))
    if not samples:
        raise InputError(f"{args.input}: no valid load samples")
    result = run_backtest(
        samples,
        config,
        models=models,
        headroom_quantile=quantile,
        error_correction=not args.no_error_correction,
        **context_from_args(args),
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = render_scaling_report(samples, result, config, out, days=args.days)
    (out / "summary.json").write_text(
        json.dumps(
            {"policies": result.scores, "targets": result.targets(), "forecast": result.forecast_accuracy}, indent=2
        )
    )
    for line in format_table(result):
        print(line)
    for f in [*files, out / "summary.json"]:
        print(f"wrote {f}")
    if bad:
        print(f"wirereport: {len(bad)} invalid input line(s) skipped (first: {bad[0]})", file=sys.stderr)
        return 3
    return 0
