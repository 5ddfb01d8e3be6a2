"""The app in-process (TestClient, views fed directly): authentication, authorization, validation, limits.

Walks OWASP API Security Top 10 (2023) items 1-5 and 8; the same checks run against a real server and
broker in ``tests/integration/test_api_server.py``.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from connectors.auth.tokens import hash_key, mint_token
from schemas.codec import get_codec
from streams.settings import Settings
from tests.unit.api.test_views import game

SECRET = "unit-test-secret-" * 3
NFL_KEY = "nfl-server-key-abcdefghij"
NBA_ADMIN_KEY = "nba-admin-key-abcdefghijk"


def make_app(**overrides):
    settings = Settings(
        _env_file=None,
        kafka_bootstrap="127.0.0.1:1",
        jwt_secret=SECRET,
        api_keys=f"nfl-1:{hash_key(NFL_KEY)}:read+league:NFL,nba-ops:{hash_key(NBA_ADMIN_KEY)}:admin+league:NBA",
        **overrides,
    )
    app = create_app(settings)
    rm = app.state.wirereport.read_model
    codec = get_codec()
    rm.apply("game-state", b"g1", codec.encode("GameState", game("g1", 7, 3, "NFL")))
    rm.apply("game-state", b"g2", codec.encode("GameState", game("g2", 80, 82, "NBA", status="final")))
    return app


def token(scopes="read", subject="ops", **kw):
    return mint_token(SECRET, subject, scopes, issuer="wirereport", audience="wirereport-api", **kw)


def bearer(scopes="read", **kw):
    return {"Authorization": f"Bearer {token(scopes, **kw)}"}


@pytest.fixture
def client():
    return TestClient(make_app(), raise_server_exceptions=False)


# --- API2 broken authentication ------------------------------------------------------------------------
def test_no_credential_is_401_with_a_challenge(client):
    r = client.get("/v1/games")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="wirereport"'
    assert r.json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic b3BzOm9wcw=="},
        {"X-API-Key": "guessed-key-0000000000"},
        {
            "Authorization": "Bearer "
            + mint_token("another-secret-" * 3, "ops", "admin", issuer="wirereport", audience="wirereport-api")
        },
        {"Authorization": "Bearer " + mint_token(SECRET, "ops", "admin", issuer="wirereport", audience="elsewhere")},
        {"Authorization": "Bearer " + mint_token(SECRET, "ops", "admin", issuer="x", audience="wirereport-api")},
        {
            "Authorization": "Bearer "
            + mint_token(
                SECRET,
                "ops",
                "admin",
                ttl_seconds=1,
                issuer="wirereport",
                audience="wirereport-api",
                now=time.time() - 60,
            )
        },
    ],
)
def test_bad_credentials_are_401(client, headers):
    r = client.get("/v1/games", headers=headers)
    assert r.status_code == 401, r.text
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_valid_token_and_api_key_are_accepted(client):
    assert client.get("/v1/games", headers=bearer()).status_code == 200
    assert client.get("/v1/games", headers={"X-API-Key": NFL_KEY}).status_code == 200


def test_health_is_open_but_ready_says_why_not(client):
    assert client.get("/health").json() == {"status": "ok"}
    r = client.get("/ready")
    assert r.status_code == 503 and "broker unreachable" in r.json()["reason"]


# --- API5 broken function-level authorization --------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/overrides"),
        ("post", "/v1/events"),
        ("post", "/v1/deployments"),
        ("post", "/v1/deployments/d1/rollback"),
        ("post", "/v1/silences"),
        ("get", "/v1/admin/dead-letters"),
    ],
)
def test_admin_actions_need_the_admin_scope(client, method, path):
    r = getattr(client, method)(path, headers=bearer("read"), **({"json": {}} if method == "post" else {}))
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    r = getattr(client, method)(path, headers={"X-API-Key": NFL_KEY}, **({"json": {}} if method == "post" else {}))
    assert r.status_code == 403


def test_admin_scope_reaches_validation(client):
    r = client.post("/v1/overrides", headers=bearer("admin"), json={})
    assert r.status_code == 422  # authorized, then the body is checked


# --- API1 broken object-level authorization ----------------------------------------------------------------
def test_league_bound_credential_sees_only_its_league(client):
    key = {"X-API-Key": NFL_KEY}
    assert [g["game_id"] for g in client.get("/v1/games", headers=key).json()["items"]] == ["g1"]
    assert client.get("/v1/games/g1", headers=key).status_code == 200
    r = client.get("/v1/games/g2", headers=key)
    assert r.status_code == 404 and r.json()["detail"] == client.get("/v1/games/nope", headers=key).json()[
        "detail"
    ].replace("nope", "g2")
    assert client.get("/v1/leagues/NBA/budget", headers=key).status_code == 404
    assert client.get("/v1/leagues/NFL/budget", headers=key).json() == {"league": "NFL", "budgets": []}
    token_nfl = bearer("read,league:NFL")
    assert client.get("/v1/games/g2", headers=token_nfl).status_code == 404
    assert client.get("/v1/games/g2", headers=bearer("read")).status_code == 200


def test_league_bound_admin_cannot_act_on_another_league(client):
    key = {"X-API-Key": NBA_ADMIN_KEY}
    body = {"league": "NFL", "reason": "playoffs", "min_agents": 5, "ttl_seconds": 600}
    r = client.post("/v1/overrides", headers=key, json=body)
    assert r.status_code == 403 and "limited to NBA" in r.json()["detail"]
    r = client.post("/v1/deployments", headers=key, json={"version": "v2"})  # no league: all leagues
    assert r.status_code == 403


# --- API3 broken object property level authorization (mass assignment) -------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/overrides", {"league": "NFL", "reason": "x" * 5, "ttl_seconds": 600, "created_by": "ceo"}, "created_by"),
        (
            "/v1/overrides",
            {"league": "NFL", "reason": "x" * 5, "ttl_seconds": 600, "override_id": "mine"},
            "override_id",
        ),
        (
            "/v1/events",
            {"league": "NFL", "kind": "draft", "multiplier": 2, "duration_seconds": 600, "event_id": "e"},
            "event_id",
        ),
        ("/v1/deployments", {"version": "v2", "requested_by": "someone-else"}, "requested_by"),
        (
            "/v1/silences",
            {"matchers": {"a": "b"}, "duration_seconds": 600, "comment": "abc", "created_by": "x"},
            "created_by",
        ),
    ],
)
def test_server_owned_fields_cannot_be_set(client, path, body, field):
    r = client.post(path, headers=bearer("admin"), json=body)
    assert r.status_code == 422
    assert f"{field}: Extra inputs are not permitted" in r.json()["detail"]


def test_validation_errors_are_readable_and_do_not_echo_input(client):
    body = {
        "league": "XFL",
        "reason": "<script>",
        "min_agents": 500,
        "max_agents": 1,
        "expires_at": "2020-01-01T00:00:00Z",
    }
    r = client.post("/v1/overrides", headers=bearer("admin"), json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "league: Input should be 'NFL', 'NBA' or 'WNBA'" in detail
    assert "min_agents: Input should be less than or equal to 150" in detail
    assert "<script>" not in r.text
    r = client.post(
        "/v1/overrides",
        headers=bearer("admin"),
        json={"league": "NFL", "reason": "abc", "expires_at": "2020-01-01T00:00:00Z"},
    )
    assert r.status_code == 422 and "expires_at must be in the future" in r.json()["detail"]
    r = client.post(
        "/v1/overrides", headers={**bearer("admin"), "Content-Type": "application/json"}, content=b"{not json"
    )
    assert r.status_code == 422


def test_dead_letters_never_expose_raw_payloads(client):
    from datetime import UTC, datetime

    rm = client.app.state.wirereport.read_model
    rec = {
        "source_topic": "plays",
        "partition": 0,
        "offset": 9,
        "key": b"k",
        "value": b"password=hunter2",
        "reason": "bad magic",
        "agent": "games",
        "failed_at": datetime.now(UTC),
    }
    rm.apply("dead-letters", b"plays", get_codec().encode("DeadLetter", rec))
    r = client.get("/v1/admin/dead-letters", headers=bearer("admin"))
    assert r.json()["total"] == 1 and r.json()["recent"][0]["offset"] == 9
    assert "hunter2" not in r.text and "cGFzc3dvcmQ9aHVudGVyMg" not in r.text


# --- API4 unrestricted resource consumption ----------------------------------------------------------------
def test_page_size_is_capped(client):
    assert client.get("/v1/games?limit=200", headers=bearer()).status_code == 200
    r = client.get("/v1/games?limit=201", headers=bearer())
    assert r.status_code == 422 and "at most 200" in r.json()["detail"]
    page = client.get("/v1/games?limit=1&offset=1", headers=bearer()).json()
    assert page["total"] == 2 and len(page["items"]) == 1 and page["items"][0]["game_id"] == "g2"


def test_rate_limit_per_credential_answers_429_with_retry_after():
    client = TestClient(make_app(api_rate_per_second=0.5, api_rate_burst=3))
    alice, bob = bearer(subject="alice"), bearer(subject="bob")
    assert [client.get("/v1/games", headers=alice).status_code for _ in range(4)] == [200, 200, 200, 429]
    r = client.get("/v1/games", headers=alice)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert client.get("/v1/games", headers=bob).status_code == 200
    assert "wirereport_api_rate_limited_total" in client.get("/metrics").text


def test_large_bodies_are_refused_before_parsing():
    client = TestClient(make_app(api_max_body_bytes=1000))
    big = {"matchers": {"a": "b"}, "duration_seconds": 600, "comment": "x" * 5000}
    r = client.post("/v1/silences", headers=bearer("admin"), json=big)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


# --- API8 security misconfiguration ------------------------------------------------------------------------
def test_cors_is_off_by_default_and_explicit_when_on(client):
    pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    r = client.options("/v1/games", headers=pre)
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/v1/games", headers={**bearer(), "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    on = TestClient(make_app(cors_origins="https://dash.example"))
    r = on.options("/v1/games", headers={**pre, "Origin": "https://dash.example"})
    assert r.headers["access-control-allow-origin"] == "https://dash.example"
    r = on.options("/v1/games", headers=pre)
    assert r.headers.get("access-control-allow-origin") != "https://evil.example"


def test_security_headers_and_no_stack_traces(client):
    r = client.get("/v1/games", headers=bearer())
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    client.app.state.wirereport.read_model.keyed["games"].apply("bad", {"league": "NFL", "x": object()})
    r = client.get("/v1/games", headers=bearer())
    assert r.status_code == 500 and r.json() == {
        "error": "internal_error",
        "detail": "internal error (logged on the server)",
    }
    assert "Traceback" not in r.text


def test_docs_can_be_turned_off_and_short_secrets_refused():
    assert TestClient(make_app()).get("/docs").status_code == 200
    assert TestClient(make_app(api_docs_enabled=False)).get("/docs").status_code == 404
    with pytest.raises(ValueError, match="at least 32"):
        create_app(Settings(_env_file=None, kafka_bootstrap="127.0.0.1:1", jwt_secret="short"))


def test_no_credentials_configured_refuses_everything():
    app = create_app(Settings(_env_file=None, kafka_bootstrap="127.0.0.1:1"))
    r = TestClient(app).get("/v1/games", headers=bearer("admin"))
    assert r.status_code == 401 and "no JWT secret" in r.json()["detail"]


# --- reads ---------------------------------------------------------------------------------------------------
def test_game_detail_filters_and_etag(client):
    r = client.get("/v1/games/g1", headers=bearer())
    assert r.status_code == 200 and r.json()["game"]["home_score"] == 7 and r.json()["top_moments"] == []
    again = client.get("/v1/games/g1", headers={**bearer(), "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert [g["game_id"] for g in client.get("/v1/games?status=final", headers=bearer()).json()["items"]] == ["g2"]
    assert [g["game_id"] for g in client.get("/v1/games?league=NFL", headers=bearer()).json()["items"]] == ["g1"]
    assert client.get("/v1/games?status=bogus", headers=bearer()).status_code == 422
    for path in (
        "/v1/tweets",
        "/v1/scaling",
        "/v1/scaling/history",
        "/v1/servers",
        "/v1/alerts",
        "/v1/alerts/history",
        "/v1/breakers",
        "/v1/deployments",
        "/v1/silences",
    ):
        r = client.get(path, headers=bearer())
        assert r.status_code == 200 and r.json()["items"] == [], path
    assert client.get("/v1/leagues/NFL/forecast", headers=bearer()).json() == {"league": "NFL", "forecasts": []}


def tweet(i: int, game_id: str = "g1", significance: float = 1.0) -> dict:
    from datetime import UTC, datetime

    return {
        "command_id": f"c{i}",
        "account": "nfl",
        "league": "NFL",
        "game_id": game_id,
        "play_id": f"p{i}",
        "text": f"play {i}",
        "style": "hype",
        "urgency": "high",
        "significance": significance,
        "win_prob_home": 0.6,
        "occurred_at": datetime(2026, 11, 1, 18, i % 60, tzinfo=UTC),
    }


def test_top_moments_and_tweets(client):
    rm = client.app.state.wirereport.read_model
    codec = get_codec()
    for i, sig in enumerate([1.0, 9.0, 3.0, 7.0, 5.0, 2.0, 8.0]):
        rm.apply("tweet-commands", b"nfl", codec.encode("TweetCommand", tweet(i, significance=sig)))
    rm.apply("tweet-commands", b"nfl", codec.encode("TweetCommand", tweet(1, significance=9.0)))  # redelivered
    rm.apply("tweet-commands", b"nfl", codec.encode("TweetCommand", tweet(99, game_id="g2", significance=99)))
    moments = client.get("/v1/games/g1", headers=bearer()).json()["top_moments"]
    assert [m["significance"] for m in moments] == [9.0, 8.0, 7.0, 5.0, 3.0]
    assert moments[0]["play_id"] == "p1" and moments[0]["text"] == "play 1"
    page = client.get("/v1/tweets?game_id=g1&limit=3", headers=bearer()).json()
    assert page["total"] == 7 and [t["command_id"] for t in page["items"]] == ["c6", "c5", "c4"]
    assert page["items"][0]["publish_status"] == "pending"  # tweet-receipts declared, no receipt for it yet
    assert client.get("/v1/tweets?league=NBA", headers=bearer()).json()["total"] == 0


def test_deployment_detail_joins_state_and_decisions(client):
    from datetime import UTC, datetime

    rm = client.app.state.wirereport.read_model
    codec = get_codec()
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    state = {
        "deployment_id": "dep-1",
        "league": "NBA",
        "version": "v2",
        "targets": ["s1", "s2"],
        "phase": "canary",
        "reason": "canary s1",
        "requested_at": now,
        "updated_at": now,
    }
    rm.apply("deployment-state", b"dep-1", codec.encode("DeploymentState", codec_defaults("DeploymentState", state)))
    decision = {
        "decision_id": "d1",
        "deployment_id": "dep-1",
        "server_id": "s1",
        "league": "NBA",
        "version": "v2",
        "action": "deploy",
        "phase": "canary",
        "reason": "canary first",
        "decided_at": now,
    }
    rm.apply(
        "deployment-decisions",
        b"s1",
        codec.encode("DeploymentDecision", codec_defaults("DeploymentDecision", decision)),
    )
    body = client.get("/v1/deployments/dep-1", headers=bearer()).json()
    assert body["deployment"]["phase"] == "canary" and [d["decision_id"] for d in body["decisions"]] == ["d1"]
    assert client.get("/v1/deployments?phase=canary", headers=bearer()).json()["total"] == 1
    assert client.get("/v1/deployments/dep-1", headers={"X-API-Key": NFL_KEY}).status_code == 404  # NBA's
    assert client.get("/v1/deployments/nope", headers=bearer()).status_code == 404


def codec_defaults(schema: str, record: dict) -> dict:
    from schemas.json_form import from_json

    return from_json(schema, record)


def test_api_command_refuses_a_busy_port_in_one_line(capsys):
    import socket

    from connectors.cli.main import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["api", "--port", str(port)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"wirereport: error: cannot listen on 127.0.0.1:{port}: Address already in use; pick another with --port"
    )
