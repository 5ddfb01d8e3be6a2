"""Retry and cancel a tweet, pause and resume an account through the API: admin scope, exact account matching for
league-bound admins, 404 alike for unknown and foreign objects, deterministic control ids, audited, and the
accounts' paused state read from ``publisher-controls``."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.commands import publisher_control
from schemas.codec import get_codec
from tests.unit.api.console.test_console import signed_in
from tests.unit.api.test_app import NBA_ADMIN_KEY, bearer, make_app
from tests.unit.api.test_league_isolation import RecordingSender

NFL_COMMAND = {"command_id": "cmd-nfl-1", "account": "NFL", "league": "NFL", "game_id": "g1", "text": "TD"}
TEAM_COMMAND = {"command_id": "cmd-phi-1", "account": "NFL-PHI", "league": "NFL", "game_id": "g1", "text": "TD"}
NBA_ADMIN = {"X-API-Key": NBA_ADMIN_KEY}


@pytest.fixture
def app():
    app = make_app()
    rm = app.state.wirereport.read_model
    rm.logs["tweets"].append(NFL_COMMAND)
    rm.logs["tweets"].append(TEAM_COMMAND)
    # a command older than the recent history: known from its receipt
    rm.keyed["tweet_receipts"].apply("cmd-nba-0", {"command_id": "cmd-nba-0", "account": "NBA", "status": "failed"})
    app.state.wirereport.sender = RecordingSender()
    return app


@pytest.fixture
def client(app):
    return TestClient(app, raise_server_exceptions=False)


def sent(app) -> list[tuple[str, dict]]:
    """The publisher controls the API produced (their audit entries are in :func:`audited`)."""
    return [(topic, record) for topic, record in app.state.wirereport.sender.sent if topic != "audit-log"]


def audited(app) -> list[dict]:
    return [record for topic, record in app.state.wirereport.sender.sent if topic == "audit-log"]


def test_an_admin_retries_a_failed_tweet_and_gets_the_control_id(app, client, caplog):
    with caplog.at_level(logging.INFO, logger="api.routers.accounts"):
        r = client.post("/v1/tweets/cmd-nba-0/retry", headers=bearer("admin"), json={"reason": "X is back"})
    assert r.status_code == 202, r.text
    [(topic, record)] = sent(app)
    assert topic == "publisher-controls" and r.json()["command_id"] == record["control_id"]
    assert record["control_id"].startswith("control-")
    assert {k: record[k] for k in ("action", "account", "command_id", "requested_by", "reason")} == {
        "action": "retry", "account": "NBA", "command_id": "cmd-nba-0", "requested_by": "ops", "reason": "X is back"
    }  # fmt: skip
    get_codec().validate("PublisherControl", record)
    [entry] = audited(app)
    assert {k: entry[k] for k in ("action", "target", "league", "actor", "reason")} == {
        "action": "publisher.retry", "target": record["control_id"], "league": "NBA", "actor": "ops",
        "reason": "X is back",
    }  # fmt: skip
    get_codec().validate("AuditEntry", entry)


@pytest.mark.parametrize(
    ("path", "action", "account", "command_id"),
    [
        ("/v1/tweets/cmd-nfl-1/cancel", "cancel", "NFL", "cmd-nfl-1"),
        ("/v1/accounts/WNBA/pause", "pause", "WNBA", None),
        ("/v1/accounts/NFL-PHI/resume", "resume", "NFL-PHI", None),
    ],
)
def test_each_control_is_one_record_without_a_body_too(app, client, path, action, account, command_id):
    r = client.post(path, headers=bearer("admin"))
    assert r.status_code == 202, r.text
    [(_, record)] = sent(app)
    assert (record["action"], record["account"], record["command_id"], record["reason"]) == (
        action, account, command_id, ""
    )  # fmt: skip


def test_the_same_idempotency_key_gives_the_same_control_id(app, client):
    headers = {**bearer("admin"), "Idempotency-Key": "pause-nfl-1"}
    ids = {client.post("/v1/accounts/NFL/pause", headers=headers).json()["command_id"] for _ in range(2)}
    assert len(ids) == 1 and len(sent(app)) == 2  # produced twice, applied once by the publisher
    now = datetime(2027, 1, 1, tzinfo=UTC)
    first = publisher_control("pause", "NFL", "ops", "", now=now)
    assert publisher_control("pause", "NFL", "ops", "", now=now) == first
    later = publisher_control("pause", "NFL", "ops", "", now=now.replace(second=1))
    assert later["control_id"] != first["control_id"]


@pytest.mark.parametrize(
    "path",
    ["/v1/tweets/cmd-nfl-1/retry", "/v1/tweets/cmd-nfl-1/cancel", "/v1/accounts/NFL/pause", "/v1/accounts/NFL/resume"],
)
def test_without_the_admin_scope_it_is_403_and_without_a_credential_401(app, client, path):
    assert client.post(path, headers=bearer("read")).status_code == 403
    assert client.post(path).status_code == 401
    assert sent(app) == []


@pytest.mark.parametrize(
    "path",
    [
        "/v1/tweets/cmd-nfl-1/retry",  # another league's account
        "/v1/tweets/cmd-phi-1/cancel",  # a team account: of no league for the exact match
        "/v1/tweets/no-such-command/retry",
        "/v1/accounts/NFL/pause",
        "/v1/accounts/WNBA/pause",  # "NBA" is in "WNBA": never a match
        "/v1/accounts/NFL-PHI/resume",
        "/v1/accounts/nba/pause",  # another account than NBA's
    ],
)
def test_a_league_bound_admin_gets_404_for_other_accounts_like_unknown_ones(app, client, path):
    r = client.post(path, headers=NBA_ADMIN)
    assert r.status_code == 404, r.text
    assert sent(app) == []


def test_a_league_bound_admin_acts_on_its_own_league_account(app, client):
    assert client.post("/v1/tweets/cmd-nba-0/cancel", headers=NBA_ADMIN).status_code == 202
    assert client.post("/v1/accounts/NBA/pause", headers=NBA_ADMIN, json={"reason": "bad night"}).status_code == 202
    assert [r["action"] for _, r in sent(app)] == ["cancel", "pause"]
    assert {r["requested_by"] for _, r in sent(app)} == {"nba-ops"}


def test_unknown_accounts_and_bad_input_are_refused(app, client):
    assert client.post("/v1/accounts/NOBODY/pause", headers=bearer("admin")).status_code == 404
    assert client.post("/v1/accounts/bad%20name/pause", headers=bearer("admin")).status_code == 422
    r = client.post("/v1/accounts/NFL/pause", headers=bearer("admin"), json={"reason": "x" * 501})
    assert r.status_code == 422
    r = client.post("/v1/accounts/NFL/pause", headers=bearer("admin"), json={"control_id": "mine"})
    assert r.status_code == 422  # server-owned fields cannot be set
    assert sent(app) == []


def _apply_control(app, action: str, account: str, second: int, by: str = "ops", reason: str = "") -> None:
    record = publisher_control(action, account, by, reason, now=datetime(2027, 1, 1, 0, 0, second, tzinfo=UTC))
    rm = app.state.wirereport.read_model
    rm.apply("publisher-controls", record["control_id"].encode(), get_codec().encode("PublisherControl", record))


def test_the_accounts_list_shows_the_paused_state_from_the_controls(app, client):
    _apply_control(app, "pause", "NFL", 1, reason="bad night")
    _apply_control(app, "pause", "NBA", 2)
    _apply_control(app, "resume", "NBA", 3)
    _apply_control(app, "pause", "NFL-PHI", 4)
    page = client.get("/v1/accounts", headers=bearer("read")).json()
    by_name = {a["account"]: a for a in page["items"]}
    assert sorted(by_name) == ["NBA", "NFL", "NFL-PHI", "WNBA"]
    assert {name: a["paused"] for name, a in by_name.items()} == {
        "NBA": False, "NFL": True, "NFL-PHI": True, "WNBA": False
    }  # fmt: skip
    nfl = by_name["NFL"]
    assert (nfl["league"], nfl["paused_reason"], nfl["paused_by"], nfl["paused_at"]) == (
        "NFL", "bad night", "ops", "2027-01-01T00:00:01Z"
    )  # fmt: skip
    assert by_name["NFL-PHI"]["league"] is None
    # a league-bound credential sees its league's account only
    page = client.get("/v1/accounts", headers=NBA_ADMIN).json()
    assert [a["account"] for a in page["items"]] == ["NBA"]
    page = client.get("/v1/accounts?league=NFL", headers=bearer("read")).json()
    assert [a["account"] for a in page["items"]] == ["NFL"]


def test_the_console_s_account_rows_say_paused_or_publishing_and_carry_the_latest_control(app):
    _apply_control(app, "pause", "NFL", 1)
    _apply_control(app, "pause", "NBA", 2)
    _apply_control(app, "resume", "NBA", 3)
    html = signed_in(app).get("/console/tweets").text
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r'<tr data-flag="tweets.actions"[^>]*data-account="(\w+)".*?</tr>', html, re.S)
    }
    assert sorted(rows) == ["NBA", "NFL", "WNBA"]
    assert 'data-field="publishing"><span class="badge s-paused">paused<' in rows["NFL"]
    assert 'data-field="publishing"><span class="badge s-publishing">publishing<' in rows["NBA"]
    latest = app.state.wirereport.read_model.account_controls()["NBA"]
    assert latest["action"] == "resume" and f'data-control="2027-01-01T00:00:03Z|{latest["control_id"]}"' in rows["NBA"]
    assert 'data-control=""' in rows["WNBA"]  # never paused
    # both buttons are on the row (the status may change live); the page's CSS shows the one that applies
    assert "/console/actions/account_pause" in rows["NFL"] and "/console/actions/account_resume" in rows["NFL"]
