"""Health rules of league servers: threshold alerts with ``for`` and hysteresis, and a heartbeat rule.

Pure and clock-injected: every function takes the state of ONE server (a JSON-able dict, kept by the
health agent in a table keyed by ``server_id``) and a sample or the current time, and returns the new
state and the Alert records of the transitions it caused. Times inside the state are epoch milliseconds.

Rules (Prometheus style: one rule per metric and severity, the router inhibits warning under critical):
- ``HighCpu`` / ``HighMemory`` / ``HighDisk``: pending when first seen at or above the threshold, firing
  once it held continuously for ``warning_for`` (warning) or ``critical_for`` (critical), resolved once the
  value stayed at least ``resolve_margin`` points below the threshold for ``resolve_for``.
- ``ServerDown`` (critical): no sample for ``heartbeat_intervals`` of the server's own recent cadence
  (median of its last observed intervals, ``default_interval`` before it has any; a gap equal to the
  sample's own ``interval_seconds`` is learned before the check); resolved by its next sample.
"""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

if TYPE_CHECKING:  # remediation imports this module
    from streams.health.remediation import RemediationState

WARNING = "warning"
CRITICAL = "critical"
RECENT_INTERVALS = 5

SUGGESTIONS = {
    "HighCpu": "Shed load or scale the league out; look for a runaway agent (top -o %CPU).",
    "HighMemory": "Restart the leaking agent process; check for unbounded caches or queues.",
    "HighDisk": "Rotate and compress logs, prune old replays and table state; grow the volume.",
    "ServerDown": "Check the host and the metrics agent (systemctl status, network); the supervisor restarts it.",
}


class RuleState(TypedDict):
    """One rule's state machine (``HealthRuleState``); times in epoch ms."""

    state: str  # inactive, pending or firing
    since: int | None  # first seen at or above the threshold (pending, firing)
    clear_since: int | None  # firing, and first seen clear of the threshold by the resolve margin


class HealthState(TypedDict):
    """The health state of ONE server (JSON-able, the ``HealthState`` record); times in epoch ms."""

    server_id: str
    league: str | None
    last_seen: int | None  # its newest sample's observed_at
    intervals: list[float]  # its last RECENT_INTERVALS reporting intervals (seconds)
    down: int | None  # ServerDown fired at this deadline, until its next sample
    values: dict[str, float]  # metric (cpu, memory, disk) -> its last value (percent)
    rules: dict[str, RuleState]  # "metric:severity" -> the rule's state
    # kept with the health state by the health agent: the table partition it was written to, and self-healing
    partition: NotRequired[int | None]
    remediation: NotRequired[RemediationState]


@dataclass(frozen=True)
class MetricRule:
    """Warning and critical thresholds of one metric field of SystemMetrics."""

    metric: str  # cpu, memory, disk
    field: str  # cpu_percent ...
    alertname: str
    warning: float
    critical: float


@dataclass(frozen=True)
class HealthConfig:
    """The rules' knobs (the defaults are the shipped thresholds; ``from_settings`` reads ``WIREREPORT_HEALTH_*``)."""

    rules: tuple[MetricRule, ...] = (
        MetricRule("cpu", "cpu_percent", "HighCpu", 70.0, 90.0),
        # the memory warning is also the scaling policy's no-scale-up limit (one notion of "memory tight")
        MetricRule("memory", "memory_percent", "HighMemory", 80.0, 95.0),
        MetricRule("disk", "disk_percent", "HighDisk", 85.0, 95.0),
    )
    warning_for: float = 120.0
    critical_for: float = 60.0
    resolve_margin: float = 5.0
    resolve_for: float = 60.0
    heartbeat_intervals: float = 3.0
    default_interval: float = 30.0
    extra_labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, s: Any) -> HealthConfig:
        return cls(
            rules=(
                MetricRule("cpu", "cpu_percent", "HighCpu", s.health_cpu_warning, s.health_cpu_critical),
                MetricRule("memory", "memory_percent", "HighMemory", s.health_memory_warning, s.health_memory_critical),
                MetricRule("disk", "disk_percent", "HighDisk", s.health_disk_warning, s.health_disk_critical),
            ),
            warning_for=s.health_warning_for_seconds,
            critical_for=s.health_critical_for_seconds,
            resolve_margin=s.health_resolve_margin,
            resolve_for=s.health_resolve_for_seconds,
            heartbeat_intervals=s.health_heartbeat_intervals,
            default_interval=s.health_default_interval_seconds,
        )


def fingerprint(alertname: str, server_id: str | None, severity: str, **labels: str) -> str:
    """Stable id of an alert: a hash of its identifying labels (the same alert always gets the same one)."""
    items = {"alertname": alertname, "server_id": server_id or "", "severity": severity, **labels}
    text = "\x1f".join(f"{k}={items[k]}" for k in sorted(items))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def new_state(server_id: str, league: str | None = None) -> HealthState:
    """The state of a server never seen before."""
    return {
        "server_id": server_id,
        "league": league,
        "last_seen": None,
        "intervals": [],
        "down": None,
        "values": {},
        "rules": {},
    }


def cadence(state: HealthState, config: HealthConfig) -> float:
    """The server's reporting interval in seconds: the median of its recent intervals."""
    return statistics.median(state["intervals"]) if state["intervals"] else config.default_interval


def heartbeat_deadline(state: HealthState, config: HealthConfig) -> int | None:
    """Epoch ms after which the server counts as down (None before its first sample)."""
    if state["last_seen"] is None:
        return None
    return state["last_seen"] + int(config.heartbeat_intervals * cadence(state, config) * 1000)


def _alert(state, alertname, severity, status, at_ms, value, threshold, summary, starts_ms, **labels) -> dict:
    labels = {k: str(v) for k, v in labels.items()}
    return {
        "fingerprint": fingerprint(
            alertname, state["server_id"], severity, **{k: labels[k] for k in ("metric",) if k in labels}
        ),
        "alertname": alertname,
        "server_id": state["server_id"],
        "league": state["league"],
        "severity": severity,
        "status": status,
        "value": None if value is None else float(value),
        "threshold": None if threshold is None else float(threshold),
        "summary": summary,
        "suggestion": SUGGESTIONS.get(alertname, ""),
        "at": _dt(at_ms),
        "starts_at": _dt(starts_ms) if starts_ms is not None else None,
        "labels": labels,
    }


def check_heartbeat(
    state: HealthState, now: datetime, config: HealthConfig
) -> tuple[HealthState, list[dict[str, Any]]]:
    """Fire ``ServerDown`` if ``now`` is past the server's heartbeat deadline (the alert is dated at the deadline)."""
    deadline = heartbeat_deadline(state, config)
    if deadline is None or state["down"] is not None or _ms(now) <= deadline:
        return state, []
    state = {**state, "down": deadline}
    silent = (deadline - state["last_seen"]) / 1000
    alert = _alert(
        state,
        "ServerDown",
        CRITICAL,
        "firing",
        deadline,
        silent,
        None,
        f"{state['server_id']} sent no metrics for {silent:.0f}s ({config.heartbeat_intervals:g} intervals)",
        deadline,
        source="health",
    )
    return state, [alert]


def _evaluate_rule(rule_state, value, threshold, hold_for, now, config) -> tuple[RuleState, str | None]:
    """One rule's state machine; returns the new rule state and 'firing'/'resolved'/None."""
    st = rule_state or {"state": "inactive", "since": None, "clear_since": None}
    if st["state"] == "firing":
        if value <= threshold - config.resolve_margin:
            clear_since = st["clear_since"] if st["clear_since"] is not None else now
            if now - clear_since >= config.resolve_for * 1000:
                return {"state": "inactive", "since": None, "clear_since": None}, "resolved"
            return {**st, "clear_since": clear_since}, None
        return {**st, "clear_since": None}, None
    if value >= threshold:
        since = st["since"] if st["state"] == "pending" else now
        if now - since >= hold_for * 1000:
            return {"state": "firing", "since": since, "clear_since": None}, "firing"
        return {"state": "pending", "since": since, "clear_since": None}, None
    return {"state": "inactive", "since": None, "clear_since": None}, None


def evaluate_sample(
    state: HealthState | None, sample: dict[str, Any], config: HealthConfig
) -> tuple[HealthState, list[dict[str, Any]]]:
    """Apply one SystemMetrics record to its server's state; return ``(new state, alerts)``."""
    now_dt = sample["observed_at"]
    now = _ms(now_dt)
    state = state or new_state(sample["server_id"], sample.get("league"))
    if state["last_seen"] is not None and now <= state["last_seen"]:
        return state, []  # a duplicate or out-of-order sample: at-least-once delivery, ignore it
    gap = (now - state["last_seen"]) / 1000 if state["last_seen"] is not None else None
    reported = sample.get("interval_seconds") or 0.0
    if gap is not None and reported > 0 and abs(gap - reported) <= 0.5 * reported:
        # the gap is the interval the server says it reports at: learn it before judging the heartbeat, so an
        # hourly reporter is not "down" after 3 x the default interval while its cadence is still unknown
        state = {**state, "intervals": (state["intervals"] + [gap])[-RECENT_INTERVALS:]}
        gap = None
    state, alerts = check_heartbeat(state, now_dt, config)
    state = {**state, "league": sample.get("league") or state["league"], "rules": dict(state["rules"])}
    if gap is not None and state["down"] is None:  # an outage is not a reporting interval
        state["intervals"] = (state["intervals"] + [gap])[-RECENT_INTERVALS:]
    if state["down"] is not None:
        silent = (now - state["last_seen"]) / 1000
        alerts.append(
            _alert(
                state,
                "ServerDown",
                CRITICAL,
                "resolved",
                now,
                silent,
                None,
                f"{state['server_id']} reports again after {silent:.0f}s",
                state["down"],
                source="health",
            )
        )
        state["down"] = None
    state["last_seen"] = now
    state["values"] = {r.metric: float(sample[r.field]) for r in config.rules if sample.get(r.field) is not None}
    for rule in config.rules:
        value = state["values"].get(rule.metric)
        if value is None:
            continue
        for severity, threshold, hold_for in (
            (WARNING, rule.warning, config.warning_for),
            (CRITICAL, rule.critical, config.critical_for),
        ):
            key = f"{rule.metric}:{severity}"
            before = state["rules"].get(key)
            after, transition = _evaluate_rule(before, value, threshold, hold_for, now, config)
            state["rules"][key] = after
            if transition is None:
                continue
            labels = {"metric": rule.metric, "source": "health"}
            warn = state["rules"].get(f"{rule.metric}:{WARNING}", {})
            if transition == "firing" and severity == CRITICAL and warn.get("state") in ("pending", "firing"):
                labels["escalated_from"] = WARNING
            verb = "above" if transition == "firing" else "back below"
            summary = f"{rule.metric} {value:.1f}% {verb} {severity} threshold {threshold:g}% on {state['server_id']}"
            if "escalated_from" in labels:
                summary += " (escalated from warning)"
            starts = after["since"] if transition == "firing" else (before or {}).get("since")
            alerts.append(
                _alert(state, rule.alertname, severity, transition, now, value, threshold, summary, starts, **labels)
            )
    return state, alerts


def firing_alerts(state: HealthState) -> list[str]:
    """Names of what is firing on the server, e.g. ``['ServerDown', 'HighCpu:critical']``."""
    names = ["ServerDown"] if state.get("down") is not None else []
    names += [
        k.replace("cpu", "HighCpu").replace("memory", "HighMemory").replace("disk", "HighDisk")
        for k, v in sorted(state["rules"].items())
        if v["state"] == "firing"
    ]
    return names


def server_health(state: HealthState, config: HealthConfig) -> dict[str, Any]:
    """The ServerHealth record (compacted topic ``server-health``) of a server's state."""
    firing = firing_alerts(state)
    if state.get("down") is not None:
        status = "down"
    elif any(f.endswith(CRITICAL) for f in firing):
        status = CRITICAL
    elif firing:
        status = WARNING
    else:
        status = "ok"
    values = state["values"]
    return {
        "server_id": state["server_id"],
        "league": state["league"],
        "status": status,
        "last_seen": _dt(state["last_seen"]) if state["last_seen"] is not None else None,
        "interval_seconds": float(cadence(state, config)),
        "cpu_percent": values.get("cpu"),
        "memory_percent": values.get("memory"),
        "disk_percent": values.get("disk"),
        "firing": firing,
        "pending": sorted(k for k, v in state["rules"].items() if v["state"] == "pending"),
    }


class HealthEvaluator:
    """Many servers' states with a shared clock (the backtest; the agent keeps states in a table instead)."""

    def __init__(self, config: HealthConfig | None = None):
        self.config = config or HealthConfig()
        self.states: dict[str, HealthState] = {}

    def tick(self, now: datetime) -> list[dict[str, Any]]:
        """Advance the clock: fire ServerDown for every server past its deadline."""
        alerts: list[dict[str, Any]] = []
        for server_id in sorted(self.states):
            self.states[server_id], fired = check_heartbeat(self.states[server_id], now, self.config)
            alerts += fired
        return alerts

    def process(self, sample: dict[str, Any]) -> list[dict[str, Any]]:
        """Advance the clock to the sample's time, then apply it."""
        alerts = self.tick(sample["observed_at"])
        sid = sample["server_id"]
        self.states[sid], more = evaluate_sample(self.states.get(sid), sample, self.config)
        return alerts + more
