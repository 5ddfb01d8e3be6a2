"""Remediation commands from firing alerts: actions, deterministic ids, rate limit and escalation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from schemas.codec import get_codec
from streams.health.remediation import RemediationConfig, remediate, remediate_all
from streams.health.rules import fingerprint

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def alert(name="ServerDown", severity="critical", minutes=0.0, status="firing", server="s1"):
    at = T0 + timedelta(minutes=minutes)
    return {
        "fingerprint": fingerprint(name, server, severity),
        "alertname": name,
        "server_id": server,
        "league": "NBA",
        "severity": severity,
        "status": status,
        "summary": "x",
        "at": at,
        "starts_at": at,
    }


def test_actions_per_alert():
    def actions(a):
        return [c["action"] for c in remediate(None, a)[1]]

    assert actions(alert("ServerDown")) == ["restart_process"]
    assert actions(alert("HighMemory", "critical")) == ["restart_process"]
    assert actions(alert("HighMemory", "warning")) == []
    assert actions(alert("HighCpu", "critical")) == ["shed_load"]  # the scaling policy's emergency cut decides
    assert actions(alert("HighCpu", "warning")) == ["request_scale_up"]
    assert actions({**alert("HighCpu", "warning"), "value": 89.9}) == ["request_scale_up"]
    assert actions({**alert("HighCpu", "warning"), "value": 90.0}) == []  # already in the emergency range
    assert actions({**alert("HighCpu", "critical"), "value": 85.0}) == ["shed_load", "request_scale_up"]
    assert actions(alert("HighDisk", "critical")) == []
    assert actions(alert("ServerDown", status="resolved")) == []
    _, cmds, _ = remediate(None, alert("HighCpu", "critical"))
    assert cmds[0]["parameters"] == {"fraction": "0.25"} and cmds[0]["target"] is None
    for c in cmds:
        get_codec().encode("RemediationCommand", c, validate_first=True)


def test_ids_are_deterministic_and_redelivery_issues_nothing():
    state, cmds, _ = remediate(None, alert())
    _, again, _ = remediate(None, alert())
    assert [c["command_id"] for c in cmds] == [c["command_id"] for c in again]
    state2, dup, _ = remediate(state, alert())
    assert dup == [] and state2["restarts"] == state["restarts"]
    _, other, _ = remediate(state, alert(minutes=5))  # a new outage: a new id
    assert other and other[0]["command_id"] != cmds[0]["command_id"]


def test_at_most_three_restarts_an_hour_then_one_escalation():
    state = None
    issued = []
    for minutes in (0, 10, 20, 30, 40, 50):
        state, cmds, alerts = remediate(state, alert(minutes=minutes))
        issued.append((minutes, [c["action"] for c in cmds], [a["alertname"] for a in alerts]))
    assert issued == [
        (0, ["restart_process"], []),
        (10, ["restart_process"], []),
        (20, ["restart_process"], []),
        (30, ["escalate"], ["RemediationEscalated"]),
        (40, [], []),  # escalated already this hour
        (50, [], []),
    ]
    assert json.loads(json.dumps(state)) == state
    # an hour after the first restart, one restart slot is free again
    state, cmds, _ = remediate(state, alert(minutes=61))
    assert [c["action"] for c in cmds] == ["restart_process"]


def test_escalation_alert_is_a_valid_critical_alert():
    state = None
    for minutes in (0, 1, 2):
        state, _, _ = remediate(state, alert(minutes=minutes))
    state, cmds, alerts = remediate(state, alert(minutes=3), RemediationConfig(process_name="nba-agent"))
    assert cmds[0]["action"] == "escalate" and cmds[0]["target"] == "nba-agent"
    (esc,) = alerts
    assert esc["severity"] == "critical" and "3 restarts" in esc["summary"]
    get_codec().encode("Alert", esc, validate_first=True)
    # the server recovers: the escalation resolves (same fingerprint), once
    state, cmds, alerts = remediate(
        state, alert(minutes=9, status="resolved"), RemediationConfig(process_name="nba-agent")
    )
    (resolved,) = alerts
    assert cmds == [] and resolved["status"] == "resolved" and resolved["fingerprint"] == esc["fingerprint"]
    assert resolved["starts_at"] == esc["at"]
    assert remediate(state, alert(minutes=10, status="resolved"))[2] == []


def test_an_outage_reported_together_with_its_recovery_restarts_nothing():
    down, back = alert(), alert(status="resolved", minutes=2)
    state, cmds, _ = remediate_all(None, [down, back])
    assert cmds == [] and state["restarts"] == []
    _, cmds, _ = remediate_all(None, [down, alert("HighCpu", "warning")])
    assert [c["action"] for c in cmds] == ["restart_process", "request_scale_up"]
