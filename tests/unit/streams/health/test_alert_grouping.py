"""Alertmanager semantics of the pure grouper, with an injected clock (epoch ms)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from streams.health.alert_grouping import AlertGrouper, GroupingConfig
from streams.health.rules import fingerprint

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MS0 = int(T0.timestamp() * 1000)
CFG = GroupingConfig(group_wait=30, group_interval=300, repeat_interval=4 * 3600)


def alert(server="s1", name="HighCpu", severity="warning", status="firing", at=0, metric="cpu", league="NBA"):
    labels = {"metric": metric} if metric else {}
    return {
        "fingerprint": fingerprint(name, server, severity, **labels),
        "alertname": name,
        "server_id": server,
        "league": league,
        "severity": severity,
        "status": status,
        "value": 80.0,
        "threshold": 70.0,
        "summary": f"{name} on {server}",
        "suggestion": "",
        "at": T0 + timedelta(seconds=at),
        "starts_at": None,
        "labels": labels,
    }


def ms(seconds: float) -> int:
    return MS0 + int(seconds * 1000)


def servers(note, key="firing"):
    return sorted(a["labels"]["server_id"] for a in note[key])


def test_group_wait_batches_alerts_of_a_group_into_one_notification():
    g = AlertGrouper(CFG)
    g.ingest_alert(alert("s1"), ms(0))
    g.ingest_alert(alert("s2", at=10), ms(10))
    g.ingest_alert(alert("s9", league="NFL", at=10), ms(10))
    assert g.flush(ms(29)) == []
    notes = g.flush(ms(30))
    assert [(n["group_key"], servers(n)) for n in notes] == [("{league=NBA,alertname=HighCpu}", ["s1", "s2"])]
    notes = g.flush(ms(40))
    assert [(n["group_key"], servers(n)) for n in notes] == [("{league=NFL,alertname=HighCpu}", ["s9"])]


def test_group_interval_for_new_alerts_and_repeat_interval_for_unchanged_ones():
    g = AlertGrouper(CFG)
    g.ingest_alert(alert("s1"), ms(0))
    assert len(g.flush(ms(30))) == 1
    g.ingest_alert(alert("s2", at=60), ms(60))
    assert g.flush(ms(300)) == []  # waits for the group interval, not group_wait
    notes = g.flush(ms(330))
    assert [servers(n) for n in notes] == [["s1", "s2"]] and not notes[0]["repeat"]
    # nothing changes: silent until repeat_interval (4 h) passed since the last notification
    t = 330
    sent = []
    while t < 330 + 4 * 3600 + 300:
        t += 300
        sent += [(t, n["repeat"]) for n in g.flush(ms(t))]
    assert sent == [(330 + 4 * 3600, True)]


def test_resolved_is_notified_once_and_group_is_dropped():
    g = AlertGrouper(CFG)
    g.ingest_alert(alert("s1"), ms(0))
    g.ingest_alert(alert("s2"), ms(0))
    g.flush(ms(30))
    g.ingest_alert(alert("s1", status="resolved", at=100), ms(100))
    (note,) = g.flush(ms(330))
    assert servers(note) == ["s2"] and servers(note, "resolved") == ["s1"] and note["status"] == "firing"
    g.ingest_alert(alert("s2", status="resolved", at=400), ms(400))
    (note,) = g.flush(ms(630))
    assert note["status"] == "resolved" and servers(note, "resolved") == ["s2"]
    assert g.state["groups"] == {} and g.state["alerts"] == {}


def test_alert_resolved_before_first_notification_is_never_sent():
    g = AlertGrouper(CFG)
    g.ingest_alert(alert("s1"), ms(0))
    g.ingest_alert(alert("s1", status="resolved", at=5), ms(5))
    assert g.flush(ms(30)) == []
    assert g.state["groups"] == {}


def test_duplicates_and_stale_redeliveries_are_ignored():
    g = AlertGrouper(CFG)
    assert g.ingest_alert(alert("s1", at=0), ms(0))
    g.flush(ms(30))
    assert g.ingest_alert(alert("s1", status="resolved", at=50), ms(50))
    g.flush(ms(330))
    # the firing transition is redelivered after a restart: it must not come back
    assert not g.ingest_alert(alert("s1", at=0), ms(400))
    assert not g.ingest_alert(alert("s1", status="resolved", at=50), ms(400))
    assert g.flush(ms(1000)) == [] and g.state["alerts"] == {}


def test_critical_inhibits_warning_of_same_server_and_metric_only():
    g = AlertGrouper(GroupingConfig(group_by=("server_id",), group_wait=30))
    g.ingest_alert(alert("s1", severity="warning"), ms(0))
    g.ingest_alert(alert("s1", severity="critical"), ms(0))
    g.ingest_alert(alert("s1", "HighMemory", severity="warning", metric="memory"), ms(0))
    (note,) = g.flush(ms(30))
    got = sorted((a["labels"]["alertname"], a["labels"]["severity"]) for a in note["firing"])
    assert got == [("HighCpu", "critical"), ("HighMemory", "warning")]


def test_server_down_inhibits_everything_else_on_that_server():
    g = AlertGrouper(GroupingConfig(group_by=("alertname",), group_wait=30))
    g.ingest_alert(alert("s1", severity="critical"), ms(0))
    g.ingest_alert(alert("s2", severity="critical"), ms(0))
    g.ingest_alert(alert("s1", "ServerDown", severity="critical", metric=None), ms(0))
    notes = {n["group_key"]: servers(n) for n in g.flush(ms(30))}
    assert notes == {"{alertname=HighCpu}": ["s2"], "{alertname=ServerDown}": ["s1"]}
    # ServerDown resolves: the still-firing HighCpu of s1 is notified at the next group interval
    g.ingest_alert(alert("s1", "ServerDown", severity="critical", metric=None, status="resolved", at=60), ms(60))
    notes = {n["group_key"]: (servers(n), servers(n, "resolved")) for n in g.flush(ms(330))}
    assert notes == {"{alertname=HighCpu}": (["s1", "s2"], []), "{alertname=ServerDown}": ([], ["s1"])}


def test_silence_mutes_until_it_expires():
    g = AlertGrouper(CFG)
    g.ingest_silence(
        {"silence_id": "m1", "matchers": {"server_id": "s1"}, "starts_at": T0, "ends_at": T0 + timedelta(seconds=200)}
    )
    g.ingest_alert(alert("s1"), ms(0))
    g.ingest_alert(alert("s2"), ms(0))
    (note,) = g.flush(ms(30))
    assert servers(note) == ["s2"]
    assert g.silenced_by({"server_id": "s1"}, ms(100)) == "m1"
    (note,) = g.flush(ms(330))  # expired at 200 s: s1 shows up
    assert servers(note) == ["s1", "s2"]
    assert g.state["silences"] == {}


def test_state_is_json_and_restores():
    g = AlertGrouper(CFG)
    g.ingest_alert(alert("s1"), ms(0))
    restored = AlertGrouper(CFG, json.loads(json.dumps(g.state)))
    a, b = g.flush(ms(30)), restored.flush(ms(30))
    assert a == b and len(a) == 1
    assert a[0]["notification_id"] == b[0]["notification_id"]
