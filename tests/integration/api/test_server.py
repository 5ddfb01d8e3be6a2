"""The API as a real server (``wirereport api`` process) on the real embedded broker, queried with httpx."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from api.read_model import LOST_DATA_HOLD_SECONDS
from connectors.auth.tokens import hash_key, mint_token
from connectors.kafka.admin import create_topics
from connectors.kafka.broker import EmbeddedBroker, free_port
from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import WirereportProcess, wait_until
from tests.unit.api.test_views import game

SECRET = "integration-secret-" * 3
NFL_KEY = "nfl-server-key-integration"


def api_env(**extra: str) -> dict[str, str]:
    return {
        "WIREREPORT_JWT_SECRET": SECRET,
        "WIREREPORT_API_KEYS": f"nfl-1:{hash_key(NFL_KEY)}:read+league:NFL",
        "WIREREPORT_API_RATE_PER_SECOND": "1000",
        "WIREREPORT_API_RATE_BURST": "1000",
        **extra,
    }


def bearer(scopes: str = "read", subject: str = "ops") -> dict[str, str]:
    tok = mint_token(SECRET, subject, scopes, issuer="wirereport", audience="wirereport-api")
    return {"Authorization": f"Bearer {tok}"}


def start_api(bootstrap: str, **env: str) -> tuple[WirereportProcess, httpx.Client]:
    port = free_port()
    proc = WirereportProcess(["api", "--port", str(port)], bootstrap=bootstrap, env=api_env(**env)).start()
    proc.wait_for_output("api ready", timeout=30)
    return proc, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15)


@pytest.fixture(scope="module")
def api(broker):
    proc, client = start_api(broker)
    wait_until(lambda: client.get("/ready").status_code == 200, 20, message="API never became ready")
    yield client
    client.close()
    assert proc.stop() == 0, proc.output[-2000:]


def produce_game(bootstrap: str, game_id: str, home: int, away: int, league: str = "NFL") -> None:
    with EdgeProducer(bootstrap) as producer:
        producer.send("game-state", game(game_id, home, away, league))


def fetch_game(api: httpx.Client, game_id: str, home: int):
    r = api.get(f"/v1/games/{game_id}", headers=bearer())
    return r if r.status_code == 200 and r.json()["game"]["home_score"] == home else None


def test_game_state_appears_and_etag_gives_304(api, broker):
    game_id = f"g-{uuid.uuid4().hex[:8]}"
    produce_game(broker, game_id, 14, 10)
    r = wait_until(lambda: fetch_game(api, game_id, 14), 10, message="game never appeared")
    assert r.json()["game"]["away_score"] == 10 and r.headers["cache-control"] == "private, no-cache"
    again = api.get(f"/v1/games/{game_id}", headers={**bearer(), "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.headers["etag"] == r.headers["etag"]
    produce_game(broker, game_id, 21, 10)
    wait_until(lambda: fetch_game(api, game_id, 21), 10)
    changed = api.get(f"/v1/games/{game_id}", headers={**bearer(), "If-None-Match": r.headers["etag"]})
    assert changed.status_code == 200 and changed.headers["etag"] != r.headers["etag"]


def test_auth_failures_over_http(api):
    r = api.get("/v1/games")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert api.get("/v1/games", headers={"Authorization": "Bearer x.y.z"}).status_code == 401
    assert api.get("/v1/games", headers={"X-API-Key": NFL_KEY}).status_code == 200
    body = {"league": "NFL", "reason": "playoff week", "min_agents": 10, "ttl_seconds": 3600}
    assert api.post("/v1/overrides", headers=bearer("read"), json=body).status_code == 403
    assert api.post("/v1/overrides", headers={"X-API-Key": NFL_KEY}, json=body).status_code == 403


def _find(bootstrap: str, topic: str, field: str, value: str) -> dict | None:
    for _, record in consume_records(bootstrap, topic, timeout=3):
        if record.get(field) == value:
            return record
    return None


def test_admin_override_reaches_scaling_overrides(api, broker):
    body = {"league": "NBA", "reason": f"finals {uuid.uuid4().hex[:6]}", "min_agents": 20, "ttl_seconds": 7200}
    r = api.post("/v1/overrides", headers=bearer("admin", "alice"), json=body)
    assert r.status_code == 202, r.text
    command_id = r.json()["command_id"]
    record = _find(broker, "scaling-overrides", "override_id", command_id)
    assert record is not None, "override not on scaling-overrides"
    assert record["league"] == "NBA" and record["min_agents"] == 20 and record["created_by"] == "alice"
    assert (record["expires_at"] - record["created_at"]).total_seconds() == pytest.approx(7200, abs=1)
    # the same request again (a client retry) carries the same id for downstream deduplication
    again = api.post(
        "/v1/overrides",
        headers=bearer("admin", "alice"),
        json={**body, "expires_at": record["expires_at"].isoformat(), "ttl_seconds": None},
    )
    same = api.post(
        "/v1/overrides",
        headers=bearer("admin", "alice"),
        json={**body, "expires_at": record["expires_at"].isoformat(), "ttl_seconds": None},
    )
    assert again.status_code == 202 and again.json()["command_id"] == same.json()["command_id"]


def test_other_admin_actions_reach_their_topics(api, broker):
    admin = bearer("admin", "bob")
    tag = uuid.uuid4().hex[:6]
    r = api.post(
        "/v1/events",
        headers=admin,
        json={
            "league": "WNBA",
            "kind": "breaking_news",
            "multiplier": 2.5,
            "duration_seconds": 3600,
            "description": tag,
        },
    )
    assert r.status_code == 202, r.text
    event = _find(broker, "league-events", "event_id", r.json()["command_id"])
    assert event and event["multiplier"] == 2.5 and event["description"] == tag
    r = api.post("/v1/events", headers=admin, json={"league": "NBA", "kind": "breaking_news", "duration_seconds": 900})
    assert r.status_code == 202, r.text
    event = _find(broker, "league-events", "event_id", r.json()["command_id"])
    assert event and event["multiplier"] is None  # the worker takes the league profile's breaking-news multiplier
    r = api.post(
        "/v1/deployments", headers=admin, json={"version": f"v1.{tag}", "league": "NFL", "targets": ["nfl-1", "nfl-2"]}
    )
    assert r.status_code == 202, r.text
    request = _find(broker, "deployment-events", "event_id", r.json()["command_id"])
    assert request and request["kind"] == "request" and request["targets"] == ["nfl-1", "nfl-2"]
    assert request["requested_by"] == "bob"
    deployment_id = r.json()["record"]["deployment_id"]
    r = api.post(f"/v1/deployments/{deployment_id}/rollback", headers=admin, json={"reason": "errors up"})
    assert r.status_code == 202, r.text
    rollback = _find(broker, "deployment-events", "event_id", r.json()["command_id"])
    assert rollback and rollback["kind"] == "rollback" and rollback["deployment_id"] == deployment_id
    r = api.post(
        "/v1/silences",
        headers=admin,
        json={
            "matchers": {"alertname": "HighCPU", "server_id": tag},
            "duration_seconds": 600,
            "comment": "maintenance",
        },
    )
    assert r.status_code == 202, r.text
    silence = _find(broker, "silences", "silence_id", r.json()["command_id"])
    assert (
        silence and silence["matchers"] == {"alertname": "HighCPU", "server_id": tag} and silence["created_by"] == "bob"
    )

    def listed():
        items = api.get("/v1/silences", headers=bearer()).json()["items"]
        return [s for s in items if s["silence_id"] == r.json()["command_id"]]

    assert wait_until(listed, 10)[0]["comment"] == "maintenance"  # the read model consumes silences too


def test_sse_delivers_a_game_update(api, broker):
    game_id = f"sse-{uuid.uuid4().hex[:8]}"
    seen = []
    with api.stream("GET", "/v1/stream/games?league=WNBA", headers=bearer(), timeout=15) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "ready":
                produce_game(broker, game_id, 55, 50, "WNBA")
                produce_game(broker, f"other-{game_id}", 1, 1, "NBA")  # filtered out by ?league=WNBA
            elif line.startswith("data:") and event == "game":
                record = json.loads(line.split(":", 1)[1])
                seen.append(record)
                if record["game_id"] == game_id:
                    break
    assert seen[-1]["game_id"] == game_id and seen[-1]["home_score"] == 55
    assert all(g["league"] == "WNBA" for g in seen)


def _alert(fingerprint: str, status: str) -> dict:
    return {
        "fingerprint": fingerprint,
        "alertname": "HighCPU",
        "server_id": "nba-3",
        "league": "NBA",
        "severity": "critical",
        "status": status,
        "value": 97.0,
        "threshold": 90.0,
        "summary": "CPU 97% on nba-3",
        "at": datetime.now(UTC),
    }


def test_alerts_endpoint_and_stream(api, broker):
    fp = f"fp-{uuid.uuid4().hex[:8]}"
    with api.stream("GET", "/v1/stream/alerts", headers=bearer(), timeout=15) as stream:
        event = None
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "ready":
                with EdgeProducer(broker) as producer:
                    producer.send("alerts", _alert(fp, "firing"))
            elif line.startswith("data:") and event == "alert" and json.loads(line[5:])["fingerprint"] == fp:
                break

    def firing():
        items = api.get("/v1/alerts?league=NBA", headers=bearer()).json()["items"]
        return [a for a in items if a["fingerprint"] == fp]

    assert wait_until(firing, 10)[0]["status"] == "firing"
    with EdgeProducer(broker) as producer:
        producer.send("alerts", _alert(fp, "resolved"))
    wait_until(lambda: not firing(), 10)  # resolved alerts leave the default (firing) list
    history = api.get("/v1/alerts/history", headers=bearer()).json()["items"]
    assert [a["status"] for a in history if a["fingerprint"] == fp] == ["resolved", "firing"]


def test_read_model_status_and_metrics(api):
    status = api.get("/v1/system/read-model", headers=bearer()).json()
    assert status["broker_reachable"] and status["caught_up"]
    assert status["topics"]["game-state"]["skipped"] is None and status["topics"]["game-state"]["records"] >= 1
    metrics = api.get("/metrics").text
    assert 'wirereport_api_requests_total{method="GET",route="/v1/games/{game_id}",status="200"}' in metrics
    assert 'wirereport_read_model_lag{topic="game-state"}' in metrics


def test_a_restarted_api_rebuilds_its_views_from_the_topics(api, broker):
    game_id = f"restart-{uuid.uuid4().hex[:8]}"
    produce_game(broker, game_id, 9, 6)
    wait_until(lambda: fetch_game(api, game_id, 9), 10)
    proc, client = start_api(broker)  # a fresh process: empty memory, reads the compacted topics again
    try:
        wait_until(lambda: client.get("/ready").status_code == 200, 20)
        assert wait_until(lambda: fetch_game(client, game_id, 9), 5).json()["game"]["away_score"] == 6
        assert client.get("/v1/games?limit=200", headers=bearer()).json()["total"] >= 2
    finally:
        client.close()
        proc.stop()


def test_api_keeps_answering_while_the_broker_is_down():
    broker = EmbeddedBroker(free_port()).start()
    proc = None
    try:
        create_topics(broker.bootstrap)
        proc, client = start_api(broker.bootstrap, WIREREPORT_API_COMMAND_TIMEOUT="2")
        produce_game(broker.bootstrap, "down-1", 3, 0)
        wait_until(lambda: fetch_game(client, "down-1", 3), 15, message="game never appeared")
        wait_until(lambda: client.get("/ready").status_code == 200, 15)
        broker.process.kill()  # a crash
        broker.process.wait()
        assert fetch_game(client, "down-1", 3) is not None
        ready = wait_until(lambda: (r := client.get("/ready")).status_code == 503 and r, 20)
        assert ready.json()["reason"].startswith(f"broker unreachable at {broker.bootstrap}")
        assert fetch_game(client, "down-1", 3) is not None and client.get("/health").status_code == 200
        body = {"league": "NFL", "reason": "while down", "min_agents": 4, "ttl_seconds": 600}
        r = client.post("/v1/overrides", headers=bearer("admin"), json=body)
        assert r.status_code == 503 and "Kafka did not acknowledge the command" in r.json()["detail"]
        assert r.headers["retry-after"] == "5"
        # the broker comes back empty (in-memory): the API notices and reads the new data
        broker = EmbeddedBroker(broker.port).start()
        create_topics(broker.bootstrap)
        produce_game(broker.bootstrap, "down-2", 5, 5)
        wait_until(lambda: fetch_game(client, "down-2", 5), 20, message="no data read after the broker came back")
        # not ready for LOST_DATA_HOLD_SECONDS after it noticed the loss, then ready on the new data
        wait_until(lambda: client.get("/ready").status_code == 200, 10 + LOST_DATA_HOLD_SECONDS)
    finally:
        broker.stop()
        if proc is not None:
            proc.stop()
