"""Cancelling overrides, events and silences, and setting feature flags: admin only, league-bound admins only for
their leagues (404 for another league's id), audited, and the records the agents apply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from schemas.codec import get_codec
from tests.unit.api.test_app import NBA_ADMIN_KEY, bearer, make_app
from tests.unit.api.test_league_isolation import RecordingSender

NOW = datetime.now(UTC)


@pytest.fixture
def app():
    app = make_app()
    app.state.wirereport.sender = RecordingSender()
    rm = app.state.wirereport.read_model
    codec = get_codec()
    for league, oid in (("NFL", "override-nfl"), ("NBA", "override-nba")):
        record = {
            "override_id": oid,
            "league": league,
            "predictive_enabled": False,
            "min_agents": None,
            "max_agents": 4,
            "reason": "hold",
            "expires_at": NOW + timedelta(days=7),
            "created_at": NOW,
            "created_by": "ops",
        }
        rm.apply("scaling-overrides", league.encode(), codec.encode("ScalingOverride", record))
    event = {
        "event_id": "event-nfl",
        "league": "NFL",
        "kind": "draft",
        "multiplier": 2.0,
        "starts_at": NOW,
        "duration_seconds": 3600,
    }
    rm.apply("league-events", b"NFL", codec.encode("LeagueEvent", event))
    silence = {
        "silence_id": "silence-nfl",
        "matchers": {"league": "NFL", "alertname": "HighCpu"},
        "starts_at": NOW,
        "ends_at": NOW + timedelta(hours=2),
        "comment": "maintenance",
    }
    rm.apply("silences", b"silence-nfl", codec.encode("Silence", silence))
    return app


@pytest.fixture
def client(app):
    return TestClient(app, raise_server_exceptions=False)


def sent(app) -> list[tuple[str, dict]]:
    return app.state.wirereport.sender.sent


@pytest.mark.parametrize(
    ("path", "topic", "id_field"),
    [
        ("/v1/overrides/override-nfl", "scaling-overrides", "override_id"),
        ("/v1/events/event-nfl", "league-events", "event_id"),
        ("/v1/silences/silence-nfl", "silences", "silence_id"),
    ],
)
def test_an_admin_cancels_with_a_reason_and_the_cancellation_is_audited(app, client, path, topic, id_field):
    r = client.delete(path, params={"reason": "set by mistake"}, headers=bearer("admin", subject="alice"))
    assert r.status_code == 202, r.text
    target = path.rsplit("/", 1)[1]
    assert r.json()["command_id"] == target and r.json()["topic"] == topic
    (t1, cancel), (t2, audit) = sent(app)
    assert (t1, cancel[id_field], cancel["cancelled"]) == (topic, target, True)
    assert t2 == "audit-log" and r.json()["audit_id"] == audit["audit_id"]
    assert (audit["action"], audit["target"], audit["actor"], audit["reason"]) == (
        f"{path.split('/')[2][:-1]}.cancel",
        target,
        "alice",
        "set by mistake",
    )
    assert audit["league"] == "NFL" and audit["at"] <= datetime.now(UTC)
    # a retry is the same action: the same records, the same audit id
    again = client.request("DELETE", path, json={"reason": "set by mistake"}, headers=bearer("admin", subject="alice"))
    assert again.json()["audit_id"] == audit["audit_id"] and sent(app)[2][1][id_field] == target


def test_the_cancellation_keeps_the_cancelled_objects_fields(app, client):
    client.delete("/v1/silences/silence-nfl", params={"reason": "done early"}, headers=bearer("admin"))
    (_, silence), _ = sent(app)
    assert silence["matchers"] == {"league": "NFL", "alertname": "HighCpu"} and silence["ends_at"] <= datetime.now(UTC)
    client.delete("/v1/overrides/override-nfl", params={"reason": "wrong league"}, headers=bearer("admin"))
    override = sent(app)[2][1]
    assert (override["league"], override["max_agents"], override["predictive_enabled"]) == ("NFL", 4, False)


def test_cancelling_needs_the_admin_scope_a_reason_and_a_known_visible_id(app, client):
    reason = {"reason": "set by mistake"}
    assert client.delete("/v1/overrides/override-nfl", params=reason, headers=bearer("read")).status_code == 403
    assert client.delete("/v1/overrides/override-nfl", params=reason).status_code == 401
    assert client.delete("/v1/overrides/override-nfl", headers=bearer("admin")).status_code == 422
    assert client.delete("/v1/overrides/nope", params=reason, headers=bearer("admin")).status_code == 404
    # a league-bound admin: its league's override yes, another league's is answered like an unknown one
    nba = {"X-API-Key": NBA_ADMIN_KEY}
    assert client.delete("/v1/overrides/override-nfl", params=reason, headers=nba).status_code == 404
    assert client.delete("/v1/silences/silence-nfl", params=reason, headers=nba).status_code == 404
    assert client.delete("/v1/overrides/override-nba", params=reason, headers=nba).status_code == 202
    assert [t for t, _ in sent(app)] == ["scaling-overrides", "audit-log"]


def test_a_cancelled_silence_is_no_longer_listed_as_active(app, client):
    client.delete("/v1/silences/silence-nfl", params={"reason": "done early"}, headers=bearer("admin"))
    (_, cancelled), _ = sent(app)
    rm = app.state.wirereport.read_model
    rm.apply("silences", b"silence-nfl", get_codec().encode("Silence", cancelled))
    assert client.get("/v1/silences", headers=bearer("read")).json()["total"] == 0
    listed = client.get("/v1/silences", params={"include_expired": True}, headers=bearer("read")).json()
    assert listed["items"][0]["cancelled"] is True


def test_the_posts_answer_a_deterministic_id(client, app):
    body = {"league": "NBA", "reason": "game night", "max_agents": 9, "ttl_seconds": 3600}
    headers = {**bearer("admin"), "Idempotency-Key": "k-1"}
    first = client.post("/v1/overrides", json=body, headers=headers).json()["command_id"]
    assert (
        first.startswith("override-")
        and client.post("/v1/overrides", json=body, headers=headers).json()["command_id"] == first
    )


def test_an_admin_sets_a_flag_audited_and_reads_it_back(app, client):
    body = {"value": "forecast-only", "league": "NBA", "reason": "new model under test"}
    r = client.put("/v1/flags/scaling.actions", json=body, headers=bearer("admin", subject="bob"))
    assert r.status_code == 202, r.text
    (t1, flag), (t2, audit) = sent(app)
    assert t1 == "feature-flags" and r.json()["command_id"] == "scaling.actions@NBA"
    assert (flag["name"], flag["value"], flag["league"], flag["set_by"]) == (
        "scaling.actions",
        "forecast-only",
        "NBA",
        "bob",
    )
    assert (t2, audit["action"], audit["target"], audit["details"]) == (
        "audit-log",
        "flag.set",
        "scaling.actions@NBA",
        {"value": "forecast-only"},
    )
    rm = app.state.wirereport.read_model
    rm.apply("feature-flags", b"scaling.actions@NBA", get_codec().encode("FeatureFlag", flag))
    items = client.get("/v1/flags", headers=bearer("read")).json()["items"]
    assert [(f["flag_id"], f["value"]) for f in items] == [("scaling.actions@NBA", "forecast-only")]
    assert client.get("/v1/flags", headers={"X-API-Key": NBA_ADMIN_KEY}).json()["total"] == 1


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("scaling.actions", {"value": "sometimes", "reason": "typo"}, 422),
        ("no.such.flag", {"value": "on", "reason": "typo"}, 422),
        ("tweets.actions", {"value": "off", "reason": "needs a league"}, 422),
        ("tweets.actions", {"value": "off", "league": "NBA", "reason": "bad day"}, 202),
        ("scaling.actions", {"value": "on", "reason": "no reason field missing", "extra": 1}, 422),
    ],
)
def test_flag_values_are_checked(client, name, body, status):
    assert client.put(f"/v1/flags/{name}", json=body, headers=bearer("admin")).status_code == status


def test_setting_a_flag_needs_admin_and_a_bound_admin_sets_only_its_league(app, client):
    body = {"value": "off", "league": "NFL", "reason": "bad day"}
    assert client.put("/v1/flags/tweets.actions", json=body, headers=bearer("read")).status_code == 403
    nba = {"X-API-Key": NBA_ADMIN_KEY}
    assert client.put("/v1/flags/tweets.actions", json=body, headers=nba).status_code == 403
    glob = {"value": "forecast-only", "reason": "everything off"}
    assert client.put("/v1/flags/scaling.actions", json=glob, headers=nba).status_code == 403
    assert client.put("/v1/flags/tweets.actions", json={**body, "league": "NBA"}, headers=nba).status_code == 202
    assert [t for t, _ in sent(app)] == ["feature-flags", "audit-log"]
