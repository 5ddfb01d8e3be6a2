"""Self-healing, pure: firing alerts become RemediationCommand records, rate-limited, with escalation.

``remediate(state, alert, now)`` takes the remediation state of the alert's server (a JSON-able dict kept
in a table keyed by ``server_id``) and returns ``(state, commands, alerts)``:
- ``ServerDown`` and a critical ``HighMemory``: ``restart_process`` of the supervised process;
- a critical ``HighCpu``: ``shed_load`` (a fraction of low-priority work);
- a warning ``HighCpu``: ``request_scale_up`` (parameter ``league``; the supervisor turns it into a LeagueEvent
  with :func:`scale_up_event`, which the scaling agent applies as a load multiplier).
The scaling policy owns each league's agent count; remediation only asks, and defers to it: no scale-up is
requested for a CPU at or above ``scale_up_max_cpu_percent`` (the policy's emergency CPU, where it cuts agents:
the servers are overloaded and more agents would add load), so the two never ask for opposite actions at once.
At most ``max_restarts_per_hour`` restarts of one process in any rolling hour; the next one becomes an
``escalate`` command plus a critical ``RemediationEscalated`` alert for a human (once per hour), resolved
when the alert that caused it resolves.
Command ids hash the cause (alert fingerprint, its start, the action): a redelivered alert yields the same
ids, and an id already issued is not issued (or counted) again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from streams.health.rules import fingerprint

HOUR_MS = 3600 * 1000


class IssuedCommand(TypedDict):
    at: int  # epoch ms
    id: str  # command id


class RemediationState(TypedDict):
    """A server's self-healing state (the ``RemediationState`` part of its HealthState); epoch ms."""

    restarts: list[int]  # restarts issued in the last hour
    issued: list[IssuedCommand]  # commands issued in the last day: a redelivered alert issues nothing again
    escalated_at: int | None  # the last escalation (at most one an hour)
    escalation_open: NotRequired[int | None]  # a RemediationEscalated alert firing until its cause resolves


class RemediationCommand(TypedDict):
    """The ``RemediationCommand`` record the supervisor carries out."""

    command_id: str  # deterministic: the alert's fingerprint and start, the action
    server_id: str
    action: str  # restart_process, shed_load, request_scale_up or escalate
    target: str | None  # the process (restart_process, escalate)
    reason: str
    alert_fingerprint: str
    issued_at: datetime  # the alert's time
    parameters: dict[str, str]


@dataclass(frozen=True)
class RemediationConfig:
    max_restarts_per_hour: int = 3
    process_name: str = "league-server"
    shed_fraction: float = 0.25
    # the scaling policy's emergency CPU: at or above it the policy cuts agents, so no scale-up is requested
    scale_up_max_cpu_percent: float = 90.0

    @classmethod
    def from_settings(cls, s: Any) -> RemediationConfig:
        return cls(
            max_restarts_per_hour=s.remediation_max_restarts_per_hour,
            process_name=s.remediation_process_name,
            scale_up_max_cpu_percent=s.scaling_emergency_cpu_percent,
        )


def new_remediation_state() -> RemediationState:
    """The state of a server that has had no remediation."""
    return {"restarts": [], "issued": [], "escalated_at": None, "escalation_open": None}


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def plan(alert: dict[str, Any], config: RemediationConfig) -> list[tuple[str, dict[str, str]]]:
    """The actions a firing alert asks for: ``[(action, parameters)]``."""
    name, severity = alert["alertname"], alert["severity"]
    if name == "ServerDown" or (name == "HighMemory" and severity == "critical"):
        return [("restart_process", {})]
    if name != "HighCpu":
        return []
    actions = [("shed_load", {"fraction": f"{config.shed_fraction:g}"})] if severity == "critical" else []
    if not _in_emergency_range(alert, config):
        actions.append(("request_scale_up", {"league": alert["league"]} if alert.get("league") else {}))
    return actions


def _in_emergency_range(alert: dict[str, Any], config: RemediationConfig) -> bool:
    """Whether a HighCpu alert's CPU is where the scaling policy cuts agents (an alert without its value: if it is
    critical, whose threshold is the emergency CPU by default)."""
    value = alert.get("value")
    if value is None:
        return alert["severity"] == "critical"
    return value >= config.scale_up_max_cpu_percent


SCALE_UP_KIND = "remediation_scale_up"


def scale_up_event(command: dict[str, Any], league: str, multiplier: float, duration_seconds: int) -> dict[str, Any]:
    """The LeagueEvent a ``request_scale_up`` command becomes: ``multiplier`` x load for ``duration_seconds`` from
    the command's issue time; its id derives from the command id, so a redelivered command makes the same event."""
    return {
        "event_id": f"remediation-{command['command_id']}",
        "league": league,
        "kind": SCALE_UP_KIND,
        "multiplier": float(multiplier),
        "starts_at": command["issued_at"],
        "duration_seconds": int(duration_seconds),
        "description": f"scale-up requested by {command['server_id']}: {command.get('reason') or ''}".strip(),
    }


def command_id(alert: dict[str, Any], action: str) -> str:
    start = alert.get("starts_at") or alert["at"]
    cause = f"{alert['fingerprint']}|{_ms(start)}|{action}"
    return hashlib.sha256(cause.encode()).hexdigest()[:24]


def remediate(
    state: RemediationState | None, alert: dict[str, Any], config: RemediationConfig | None = None
) -> tuple[RemediationState, list[RemediationCommand], list[dict[str, Any]]]:
    """Commands (and escalation alerts) for one Alert transition; only firing alerts of a server act."""
    config = config or RemediationConfig()
    state = state or new_remediation_state()
    target = config.process_name
    if not alert.get("server_id"):
        return state, [], []
    if alert["status"] != "firing":
        opened = state.get("escalation_open")
        if opened is not None and any(a == "restart_process" for a, _ in plan(alert, config)):
            why = f"{alert['alertname']} resolved on {alert['server_id']}; automatic restarts go on"
            return {**state, "escalation_open": None}, [], [_escalation_alert(alert, target, why, opened)]
        return state, [], []
    now = _ms(alert["at"])
    state = {
        "restarts": [t for t in state["restarts"] if now - t < HOUR_MS],
        "issued": [x for x in state["issued"] if now - x["at"] < 24 * HOUR_MS],
        "escalated_at": state["escalated_at"],
        "escalation_open": state.get("escalation_open"),
    }
    issued = {x["id"] for x in state["issued"]}
    commands: list[RemediationCommand] = []
    alerts: list[dict[str, Any]] = []
    for action, params in plan(alert, config):
        cid = command_id(alert, action)
        if cid in issued:
            continue  # a redelivered alert
        reason = f"{alert['alertname']} {alert['severity']}: {alert.get('summary') or ''}".strip()
        if action == "restart_process" and len(state["restarts"]) >= config.max_restarts_per_hour:
            action, cid = "escalate", command_id(alert, "escalate")
            if state["escalated_at"] is not None and now - state["escalated_at"] < HOUR_MS:
                state["issued"].append({"at": now, "id": cid})
                continue
            state["escalated_at"] = now
            state["escalation_open"] = now
            reason = f"{len(state['restarts'])} restarts of {target} in the last hour did not help; {reason}"
            alerts.append(_escalation_alert(alert, target, reason))
        elif action == "restart_process":
            state["restarts"].append(now)
        state["issued"].append({"at": now, "id": cid})
        commands.append(
            {
                "command_id": cid,
                "server_id": alert["server_id"],
                "action": action,
                "target": target if action in ("restart_process", "escalate") else None,
                "reason": reason,
                "alert_fingerprint": alert["fingerprint"],
                "issued_at": alert["at"],
                "parameters": params,
            }
        )
    return state, commands, alerts


def _escalation_alert(alert: dict[str, Any], target: str, reason: str, opened: int | None = None) -> dict[str, Any]:
    """The ``RemediationEscalated`` alert: firing when restarts are exhausted, resolved when the cause resolves."""
    server = alert["server_id"]
    return {
        "fingerprint": fingerprint("RemediationEscalated", server, "critical", process=target),
        "alertname": "RemediationEscalated",
        "server_id": server,
        "league": alert.get("league"),
        "severity": "critical",
        "status": "firing" if opened is None else "resolved",
        "value": None,
        "threshold": None,
        "summary": reason,
        "suggestion": f"Automatic restarts of {target} on {server} are exhausted: a human must investigate.",
        "at": alert["at"],
        "starts_at": alert["at"] if opened is None else datetime.fromtimestamp(opened / 1000, tz=UTC),
        "labels": {"process": target, "source": "remediation", "cause": alert["alertname"]},
    }


def remediate_all(
    state: RemediationState | None, alerts: list[dict[str, Any]], config: RemediationConfig | None = None
) -> tuple[RemediationState | None, list[RemediationCommand], list[dict[str, Any]]]:
    """``remediate`` over a server's transitions in order, skipping a firing already resolved in the same list
    (e.g. a late sample reports the outage and the recovery at once: no restart for a server that is back)."""
    resolved_after: set[int] = set()
    last_resolved: dict[str, int] = {}
    for i, a in enumerate(alerts):
        if a["status"] == "resolved":
            last_resolved[a["fingerprint"]] = i
    for i, a in enumerate(alerts):
        if a["status"] == "firing" and last_resolved.get(a["fingerprint"], -1) > i:
            resolved_after.add(i)
    commands: list[RemediationCommand] = []
    escalations: list[dict[str, Any]] = []
    for i, a in enumerate(alerts):
        if i in resolved_after:
            continue
        state, cmds, more = remediate(state, a, config)
        commands += cmds
        escalations += more
    return state, commands, escalations
