"""``wirereport backtest health --input METRICS.jsonl --out ALERTS.jsonl``: the health rules, offline."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from connectors.exceptions import InvalidInputLines
from connectors.jsonl import open_text, read_jsonl, write_jsonl
from schemas.exceptions import SchemaError
from schemas.json_form import from_json, to_json
from streams.health.backtest import alert_row, run_health_backtest
from streams.health.remediation import RemediationConfig
from streams.health.rules import HealthConfig


def register(subparsers) -> None:
    p = subparsers.add_parser("health", help="replay SystemMetrics JSON lines through the health rules")
    p.add_argument("--input", required=True, help="SystemMetrics JSON lines (.gz ok, - for stdin)")
    p.add_argument("--out", default="-", help="alert transitions as JSON lines (default stdout)")
    p.add_argument("--commands", help="also write the RemediationCommands the agent would send (JSON lines)")
    p.set_defaults(func=run)


def read_samples(path: str, bad: list[str]) -> Iterator[dict[str, Any]]:
    """SystemMetrics records of a JSON-lines file; invalid lines are collected in ``bad``."""
    for number, obj in read_jsonl(path):
        if isinstance(obj, Exception):
            bad.append(f"line {number}: {obj}")
            continue
        try:
            yield from_json("SystemMetrics", obj)
        except SchemaError as exc:
            bad.append(f"line {number}: {exc}")


def run(args) -> int:
    from streams.settings import get_settings

    settings = get_settings()
    config = HealthConfig.from_settings(settings)
    commands: list[dict] | None = [] if args.commands else None
    bad: list[str] = []
    with open_text(args.out, "w") as out:
        alerts = run_health_backtest(
            read_samples(args.input, bad),
            config,
            remediation=RemediationConfig.from_settings(settings),
            commands=commands,
        )
        count = write_jsonl(out, (alert_row(alert) for alert in alerts))
        out.flush()
    if commands is not None:
        write_jsonl(args.commands, (to_json("RemediationCommand", command) for command in commands))
    extra = f", {len(commands)} remediation command(s)" if commands is not None else ""
    print(f"backtest health: {count} alert transition(s){extra}", file=sys.stderr)
    if bad:
        for line in bad[:10]:
            print(f"wirereport: invalid input {line}", file=sys.stderr)
        raise InvalidInputLines(f"{len(bad)} invalid input line(s) skipped (first: {bad[0]})")
    return 0
