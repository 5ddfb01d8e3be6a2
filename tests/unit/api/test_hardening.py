"""API hardening in process: bounded fields, league-bound actions, failed-credential lockouts, token lifetime
and revocation, stream caps, body limits and credentials checked before a body is read."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.deps import Visibility
from api.exceptions import APIError
from api.routers.stream import stream_games
from api.security import FailureThrottle, StreamSlots
from connectors.auth.tokens import Principal, mint_token
from connectors.exceptions import InputError
from schemas.codec import get_codec
from tests.unit.api.test_app import NBA_ADMIN_KEY, NFL_KEY, SECRET, bearer, make_app, token
from tests.unit.api.test_league_isolation import RecordingSender


@pytest.fixture
def app():
    app = make_app()
    app.state.wirereport.sender = RecordingSender()
    return app


@pytest.fixture
def client(app):
    return TestClient(app, raise_server_exceptions=False)


def sent(app) -> list[tuple[str, dict]]:
    return app.state.wirereport.sender.sent


def iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


# --- every field bounded at the edge, nothing produced for a bad one ------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/v1/events", {"starts_at": "9999-12-31T23:59:59Z"}, "starts_at: must be between 2000-01-01 and 2100-01-01"),
        ("/v1/events", {"starts_at": "0001-01-01T00:00:00+05:00"}, "must be between 2000-01-01 and 2100-01-01"),
        ("/v1/events", {"starts_at": "2099-01-01T00:00:00Z"}, "starts_at must be within 1 day before and 366 days"),
        ("/v1/silences", {"ends_at": "9999-12-31T23:59:59Z"}, "ends_at: must be between 2000-01-01 and 2100-01-01"),
        ("/v1/silences", {"ends_at": "PLUS8D"}, "a silence must end after it starts and last at most 7 days"),
        ("/v1/overrides", {"expires_at": "0001-01-01T00:00:00-05:00"}, "must be between 2000-01-01 and 2100-01-01"),
    ],
)
def test_dates_out_of_bounds_are_422_and_nothing_is_produced(app, client, path, body, message):
    base = {
        "/v1/events": {"league": "NFL", "kind": "draft", "duration_seconds": 600},
        "/v1/silences": {"matchers": {"alertname": "HighCPU"}, "comment": "maintenance"},
        "/v1/overrides": {"league": "NFL", "reason": "playoffs", "min_agents": 5},
    }[path]
    body = {k: iso(timedelta(days=8)) if v == "PLUS8D" else v for k, v in body.items()}
    r = client.post(path, headers=bearer("admin"), json={**base, **body})
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"]
    assert sent(app) == []


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/v1/events", '{"league":"NFL","kind":"draft","duration_seconds":600,"multiplier":NaN}', "multiplier"),
        ("/v1/events", '{"league":"NFL","kind":"draft","duration_seconds":600,"multiplier":Infinity}', "multiplier"),
        ("/v1/overrides", '{"league":"NFL","reason":"bad \\ud800 text","ttl_seconds":600}', "reason"),
        ("/v1/events", '{"league":"NFL","kind":"draft","duration_seconds":1e400}', "duration_seconds"),
    ],
)
def test_numbers_must_be_finite_and_text_valid_unicode(app, client, path, raw, field):
    headers = {**bearer("admin"), "Content-Type": "application/json"}
    r = client.post(path, headers=headers, content=raw.encode())
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    assert sent(app) == []


def test_valid_event_and_silence_are_produced_with_utc_times(app, client):
    r = client.post(
        "/v1/events",
        headers=bearer("admin"),
        json={"league": "NFL", "kind": "draft", "duration_seconds": 600, "starts_at": "2030-01-01T00:00:00+05:00"},
    )
    assert r.status_code == 422  # too far ahead
    starts = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    body = {"league": "NFL", "kind": "draft", "duration_seconds": 600, "starts_at": starts.isoformat()}
    assert client.post("/v1/events", headers=bearer("admin"), json=body).status_code == 202
    body = {"matchers": {"league": "NFL"}, "comment": "maintenance", "duration_seconds": 7 * 86400}
    assert client.post("/v1/silences", headers=bearer("admin"), json=body).status_code == 202
    (topic, event), (_, silence) = sent(app)
    assert topic == "league-events" and event["starts_at"] == starts
    assert silence["ends_at"] - silence["starts_at"] == timedelta(days=7)


# --- league-bound admins ------------------------------------------------------------------------------------
def test_force_needs_its_own_scope(app, client):
    rm = app.state.wirereport.read_model
    rm.keyed["servers"].apply("nba-1", {"server_id": "nba-1", "league": "NBA", "status": "up"})
    body = {"version": "v2", "league": "NBA", "targets": ["nba-1"], "force": True}
    for headers in (bearer("admin"), {"X-API-Key": NBA_ADMIN_KEY}):
        r = client.post("/v1/deployments", headers=headers, json=body)
        assert r.status_code == 403 and "'deploy:force' scope" in r.json()["detail"]
    assert client.post("/v1/deployments", headers=bearer("admin,deploy:force"), json=body).status_code == 202
    assert (
        client.post("/v1/deployments", headers={"X-API-Key": NBA_ADMIN_KEY}, json={**body, "force": False}).status_code
        == 202
    )
    assert [record["force"] for _, record in sent(app)] == [True, False]


def test_nba_targets_of_an_nba_admin_must_be_known_nba_servers(app, client):
    rm = app.state.wirereport.read_model
    rm.keyed["server_metrics"].apply("nfl-1", {"server_id": "nfl-1", "league": "NFL"})
    rm.keyed["server_metrics"].apply("nba-1", {"server_id": "nba-1", "league": "NBA"})
    key = {"X-API-Key": NBA_ADMIN_KEY}
    r = client.post("/v1/deployments", headers=key, json={"version": "v2", "league": "NBA", "targets": ["nfl-1"]})
    assert r.status_code == 422 and r.json()["detail"] == "targets: blocked: not NBA servers: nfl-1"
    r = client.post("/v1/deployments", headers=key, json={"version": "v2", "league": "NBA", "targets": ["nba-9"]})
    assert r.status_code == 422 and "unknown servers: nba-9" in r.json()["detail"]
    # an admin of every league may name a server not reporting yet, never one of another league
    ops = bearer("admin")
    assert (
        client.post(
            "/v1/deployments", headers=ops, json={"version": "v2", "league": "NBA", "targets": ["nba-9"]}
        ).status_code
        == 202
    )
    r = client.post("/v1/deployments", headers=ops, json={"version": "v2", "league": "NBA", "targets": ["nfl-1"]})
    assert r.status_code == 422
    assert len(sent(app)) == 1


def test_budget_matches_the_account_exactly(client):
    rm = client.app.state.wirereport.read_model
    for account in ("NBA", "WNBA"):
        rm.keyed["budgets"].apply(account, {"account": account, "day": "2026-11-01", "used": 1, "limit": 9})
    body = client.get("/v1/leagues/NBA/budget", headers=bearer("read,league:NBA")).json()
    assert [b["account"] for b in body["budgets"]] == ["NBA"]
    assert [b["account"] for b in client.get("/v1/leagues/WNBA/budget", headers=bearer()).json()["budgets"]] == ["WNBA"]


def test_dead_letters_need_a_credential_of_every_league(client):
    r = client.get("/v1/admin/dead-letters", headers={"X-API-Key": NBA_ADMIN_KEY})
    assert r.status_code == 403 and "not limited to a league" in r.json()["detail"]
    assert client.get("/v1/admin/dead-letters", headers=bearer("admin")).status_code == 200


# --- brute force ------------------------------------------------------------------------------------------------
def test_failed_credentials_lock_the_client_out_even_with_the_right_key(client):
    guesses = [client.get("/v1/games", headers={"X-API-Key": f"guess-{i:020d}"}) for i in range(6)]
    assert [r.status_code for r in guesses] == [401, 401, 401, 401, 401, 429]
    r = client.get("/v1/games", headers={"X-API-Key": NFL_KEY})  # the right key, from a locked-out client
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "too many failed credentials" in r.json()["detail"]


def test_lockout_grows_with_consecutive_failures_and_is_per_client_and_identity():
    now = [0.0]
    throttle = FailureThrottle(free=3, base=1.0, cap=60.0, clock=lambda: now[0])
    keys = ["ip:10.0.0.1", "sub:ops"]
    locks = []
    for _ in range(9):
        throttle.failed(keys)
        locks.append(throttle.locked_for(keys))
    assert locks == [0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    assert throttle.locked_for(["ip:10.0.0.2"]) == 0.0 and throttle.locked_for(["ip:10.0.0.2", "sub:ops"]) == 60.0
    now[0] = 30.0
    throttle.succeeded("sub:ops")  # a right credential clears its identity, not the address that guessed
    assert throttle.locked_for(["sub:ops"]) == 0.0 and throttle.locked_for(["ip:10.0.0.1"]) == 30.0
    throttle.failed(["ip:10.0.0.1"])
    assert throttle.locked_for(["ip:10.0.0.1"]) == 60.0
    now[0] = 30.0 + 60.0 + 60.5  # quiet for longer than the longest lockout: forgotten
    assert throttle.locked_for(["ip:10.0.0.1"]) == 0.0
    throttle.failed(["ip:10.0.0.1"])
    assert throttle.locked_for(["ip:10.0.0.1"]) == 0.0


# --- token lifetime and revocation ------------------------------------------------------------------------------
def test_tokens_longer_than_the_bound_are_refused_when_minted_and_when_presented(client):
    with pytest.raises(InputError, match="longer than WIREREPORT_MAX_TOKEN_TTL_SECONDS"):
        mint_token(SECRET, "ops", "read", ttl_seconds=100 * 365 * 86400, issuer="wirereport", audience="wirereport-api")
    long_lived = mint_token(
        SECRET,
        "ops",
        "read",
        ttl_seconds=31 * 86400,
        max_ttl_seconds=10**10,
        issuer="wirereport",
        audience="wirereport-api",
    )
    r = client.get("/v1/games", headers={"Authorization": f"Bearer {long_lived}"})
    assert r.status_code == 401 and "lifetime exceeds" in r.json()["detail"]


def test_a_revoked_token_is_refused(app, client):
    import jwt

    tok = token("admin", subject="leaver")
    headers = {"Authorization": f"Bearer {tok}"}
    assert client.get("/v1/games", headers=headers).status_code == 200  # verified and cached
    jti = jwt.decode(tok, options={"verify_signature": False})["jti"]
    r = client.post("/v1/tokens/revoke", headers=bearer("admin"), json={"jti": jti, "reason": "left"})
    assert r.status_code == 202 and r.json()["command_id"] == jti
    [(topic, record)] = sent(app)
    assert topic == "token-revocations" and record["revoked_by"] == "ops"
    rm = app.state.wirereport.read_model
    rm.apply("token-revocations", jti.encode(), get_codec().encode("TokenRevocation", record))
    r = client.get("/v1/games", headers=headers)
    assert r.status_code == 401 and r.json()["detail"] == "token revoked"
    r = client.post("/v1/tokens/revoke", headers={"X-API-Key": NBA_ADMIN_KEY}, json={"jti": jti})
    assert r.status_code == 403


# --- streams counted at admission --------------------------------------------------------------------------------
def test_streams_are_counted_when_admitted_per_credential_and_in_all():
    app = make_app(api_sse_max_clients=3, api_sse_max_per_credential=2)
    state = app.state.wirereport
    alice = Visibility(Principal("alice", frozenset({"read"})))
    bob = Visibility(Principal("bob", frozenset({"read"})))

    async def admit(visible):
        try:
            return await stream_games(state, visible)
        except APIError as exc:
            return exc.status_code

    async def scenario():
        opened = [await admit(alice), await admit(alice)]  # none has started streaming yet
        assert await admit(alice) == 429
        opened.append(await admit(bob))
        assert await admit(bob) == 429  # the global cap
        await opened[0].background()  # a stream ends (its generator never ran): its slot is free again
        await opened[0].background()  # released once only
        assert state.streams.open == 2
        assert not isinstance(await admit(alice), int)

    asyncio.run(scenario())


def test_stream_slots_release_once():
    slots = StreamSlots(total=2, per_key=1)
    release = slots.admit("a")
    assert slots.admit("a") is None and slots.of("a") == 1
    release()
    release()
    assert slots.open == 0 and slots.admit("a") is not None


# --- bodies: credentials first, 413 for any oversize body, 408 for a slow one -------------------------------------
async def _call(app, method: str, path: str, headers: dict[str, str], chunks: list[bytes] | None, stall=False):
    """Call the ASGI app directly; return (status, body, how many body chunks it read)."""
    read = []
    pending = list(chunks or [b""])
    messages = []

    async def receive():
        if stall:
            await asyncio.Event().wait()
        chunk = pending.pop(0)
        read.append(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("10.1.2.3", 5000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], json.loads(body or b"{}"), len(read)


def test_credentials_are_checked_before_the_body_is_read(app):
    body = [b'{"league":"NFL",', b'"reason":"x"}']
    status, answer, read = asyncio.run(_call(app, "POST", "/v1/overrides", {"content-type": "application/json"}, body))
    assert (status, answer["error"], read) == (401, "unauthorized", 0)
    status, _, read = asyncio.run(_call(app, "POST", "/v1/overrides", {"X-API-Key": NFL_KEY}, body))
    assert status == 403  # authenticated, not allowed: the body was never needed


def test_chunked_bodies_over_the_limit_are_413():
    app = make_app(api_max_body_bytes=1000)
    chunks = [b"x" * 400] * 4  # no Content-Length: counted as it arrives
    status, answer, read = asyncio.run(_call(app, "POST", "/v1/silences", bearer("admin"), chunks))
    assert (status, answer["error"], read) == (413, "payload_too_large", 3)


def test_a_body_that_does_not_arrive_in_time_is_408():
    app = make_app(api_request_timeout=0.01)
    headers = {**bearer("admin"), "content-length": "10"}
    status, answer, _ = asyncio.run(_call(app, "POST", "/v1/silences", headers, None, stall=True))
    assert (status, answer["error"]) == (408, "request_timeout")


def test_body_limit_cannot_exceed_the_broker_message_limit():
    with pytest.raises(ValueError, match="at most 1000000"):
        make_app(api_max_body_bytes=2_000_000)
