"""Reading LoadSample JSON lines (the scaling backtest's input) with one clear error per bad line."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from connectors.jsonl import read_jsonl

LEAGUES = frozenset({"NFL", "NBA", "WNBA"})


def parse_sample(obj: Any) -> dict[str, Any]:
    """Validate one LoadSample object; raise ValueError with the reason."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    missing = [k for k in ("league", "observed_at", "workload") if k not in obj]
    if missing:
        raise ValueError(f"missing field(s): {', '.join(missing)}")
    if obj["league"] not in LEAGUES:
        raise ValueError(f"league must be one of {', '.join(sorted(LEAGUES))}, not {obj['league']!r}")
    try:
        at = datetime.fromisoformat(str(obj["observed_at"]))
    except ValueError:
        raise ValueError(f"observed_at {obj['observed_at']!r} is not an ISO-8601 timestamp") from None
    workload = obj["workload"]
    if isinstance(workload, bool) or not isinstance(workload, int | float) or not math.isfinite(workload):
        raise ValueError(f"workload {workload!r} is not a number")
    if workload < 0:
        raise ValueError(f"workload {workload!r} is negative")
    return {
        "league": obj["league"],
        "observed_at": obj["observed_at"],
        "t": (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp(),
        "workload": float(workload),
    }


def read_samples(path: str, bad: list[str]) -> Iterator[dict[str, Any]]:
    """Valid samples of a LoadSample JSON-lines file, in file order; bad lines are described in ``bad``.

    A sample not later than the previous one of its league is bad too (the backtest is strictly online).
    """
    last: dict[str, float] = {}
    for number, obj in read_jsonl(path):
        if isinstance(obj, Exception):
            bad.append(f"line {number}: {obj}")
            continue
        try:
            sample = parse_sample(obj)
        except ValueError as exc:
            bad.append(f"line {number}: {exc}")
            continue
        previous = last.get(sample["league"])
        if previous is not None and sample["t"] <= previous:
            bad.append(f"line {number}: {sample['league']} sample at {sample['observed_at']} is not after the previous")
            continue
        last[sample["league"]] = sample["t"]
        yield sample
