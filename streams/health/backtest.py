"""Backtest of the health rules: SystemMetrics records in, one row per alert transition out.

The exact code path of the health agent (``streams.health.rules``), without a broker. The clock is the
input's timestamps: before each sample the clock advances to its ``observed_at`` (never backwards), so a
ServerDown fires as soon as the input passes a server's heartbeat deadline. Optionally the remediation step of the agent runs too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from schemas.json_form import format_timestamp
from streams.health.remediation import RemediationConfig, remediate_all
from streams.health.rules import HealthConfig, HealthEvaluator, evaluate_sample

OUTPUT_FIELDS = ("at", "server_id", "alertname", "severity", "status", "fingerprint", "value", "threshold")


def alert_row(alert: dict[str, Any]) -> dict[str, Any]:
    """The backtest's JSON row of an Alert record."""
    row = {k: alert[k] for k in OUTPUT_FIELDS}
    row["at"] = format_timestamp(alert["at"])
    if row["value"] is not None:
        row["value"] = round(row["value"], 3)
    return row


def run_health_backtest(
    samples: Iterable[dict[str, Any]],
    config: HealthConfig | None = None,
    evaluator: HealthEvaluator | None = None,
    remediation: RemediationConfig | None = None,
    commands: list[dict[str, Any]] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the Alert records (transitions) of ``samples`` (SystemMetrics records, time-ordered).

    With a ``commands`` list, each step's alerts also go through the agent's remediation (per server, as the
    agent does per batch): RemediationCommands are appended to ``commands`` and escalation alerts yielded.
    """
    ev = evaluator or HealthEvaluator(config)
    rem_states: dict[str, Any] = {}
    clock = None

    def step(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if commands is None or not alerts:
            return alerts
        out = list(alerts)
        for sid in dict.fromkeys(a["server_id"] for a in alerts):
            mine = [a for a in alerts if a["server_id"] == sid]
            rem_states[sid], cmds, escalations = remediate_all(rem_states.get(sid), mine, remediation)
            commands.extend(cmds)
            out += escalations
        return out

    for sample in samples:
        if clock is None or sample["observed_at"] > clock:
            clock = sample["observed_at"]
            yield from step(ev.tick(clock))
        sid = sample["server_id"]
        ev.states[sid], alerts = evaluate_sample(ev.states.get(sid), sample, ev.config)
        yield from step(alerts)
