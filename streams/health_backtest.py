"""Backtest of the health rules: SystemMetrics records in, one row per alert transition out.

The exact code path of the health agent (``streams.health_rules``), without a broker. The clock is the
input's timestamps: before each sample the clock advances to its ``observed_at`` (never backwards), so a
ServerDown fires as soon as the input passes a server's heartbeat deadline.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from schemas.json_form import format_timestamp
from streams.health_rules import HealthConfig, HealthEvaluator, evaluate_sample

OUTPUT_FIELDS = ("at", "server_id", "alertname", "severity", "status", "fingerprint", "value", "threshold")


def alert_row(alert: dict[str, Any]) -> dict[str, Any]:
    """The backtest's JSON row of an Alert record."""
    row = {k: alert[k] for k in OUTPUT_FIELDS}
    row["at"] = format_timestamp(alert["at"])
    if row["value"] is not None:
        row["value"] = round(row["value"], 3)
    return row


def run_health_backtest(
    samples: Iterable[dict[str, Any]], config: HealthConfig | None = None, evaluator: HealthEvaluator | None = None
) -> Iterator[dict[str, Any]]:
    """Yield the Alert records (transitions) of ``samples`` (SystemMetrics records, time-ordered)."""
    ev = evaluator or HealthEvaluator(config)
    clock = None
    for sample in samples:
        if clock is None or sample["observed_at"] > clock:
            clock = sample["observed_at"]
            yield from ev.tick(clock)
        sid = sample["server_id"]
        ev.states[sid], alerts = evaluate_sample(ev.states.get(sid), sample, ev.config)
        yield from alerts
