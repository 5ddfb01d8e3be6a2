"""League isolation, walked over the whole API: every route of the OpenAPI schema and every SSE event kind,
with an admin credential bound to each league, sees and acts on nothing of another league (nor on objects of
no league, which belong to every league's operators only)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.deps import Visibility
from api.routers.stream import sse_event, stream_alerts, stream_games
from connectors.auth.tokens import LEAGUES, Principal
from tests.unit.api.test_app import bearer, make_app

OWNERS = (*LEAGUES, None)  # None: an object of no league


def marker(league: str | None) -> str:
    return f"obj_of_{league or 'NOLEAGUE'}"  # no marker is a substring of another ("NBA" is in "WNBA")


def _with_league(record: dict[str, Any], league: str | None) -> dict[str, Any]:
    return {**record, "league": league} if league is not None else record


def seed(rm, league: str | None) -> None:
    """One object of ``league`` in every view the API serves."""
    m = marker(league)
    keyed = {
        "games": ("game_id", f"game_{m}", {"status": "live", "home_score": 1}),
        "servers": ("server_id", f"srv_{m}", {"status": "up"}),
        "server_metrics": ("server_id", f"srv_{m}", {}),
        "alerts": ("fingerprint", f"fp_{m}", {"status": "firing", "severity": "page", "at": "2026-11-01T00:00:00Z"}),
        "breakers": ("breaker", f"br_{m}", {"state": "open"}),
        "deployments": ("deployment_id", f"dep_{m}", {"phase": "canary", "requested_at": "2026-11-01T00:00:00Z"}),
        "scaling": ("league", league or "ALL", {"agents": 3, "note": m}),
        "forecasts": ("league", league or "ALL", {"forecast": 1.0, "note": m}),
        "tweet_receipts": ("command_id", f"tw_{m}", {"status": "sent", "note": m}),
    }
    for view, (field, key, extra) in keyed.items():
        rm.keyed[view].apply(key, _with_league({field: key, **extra}, league))
    account = league or "everyone"
    rm.keyed["budgets"].apply(account, {"account": account, "day": "2026-11-01", "used": 1, "note": m})
    matchers = {"league": league} if league else {"alertname": f"HighCPU_{m}"}
    rm.keyed["silences"].apply(
        f"sil_{m}", {"silence_id": f"sil_{m}", "matchers": matchers, "ends_at": "2999-01-01T00:00:00Z"}
    )
    rm.logs["tweets"].append(
        _with_league({"command_id": f"tw_{m}", "account": account, "game_id": f"game_{m}"}, league)
    )
    rm.logs["scaling_history"].append(_with_league({"command_id": f"sc_{m}", "note": m}, league))
    rm.logs["alert_history"].append(
        _with_league({"fingerprint": f"fp_{m}", "status": "firing", "at": "2026-11-01T00:00:00Z"}, league)
    )
    rm.logs["decisions"].append(_with_league({"decision_id": f"dc_{m}", "deployment_id": f"dep_{m}"}, league))
    rm.dead_letters.add({"source_topic": "plays", "reason": f"bad {m}", "agent": "games"})


class RecordingSender:
    """Stands in for Kafka: records what would have been produced."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    async def send(self, topic: str, schema: str, record: dict) -> dict:
        self.sent.append((topic, record))
        return {k: str(v) for k, v in record.items()}

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def app():
    app = make_app(api_rate_per_second=10_000, api_rate_burst=10_000)
    rm = app.state.wirereport.read_model
    for league in OWNERS:
        seed(rm, league)
    app.state.wirereport.sender = RecordingSender()
    return app


def admin_of(league: str) -> dict[str, str]:
    return bearer(f"admin,deploy:force,league:{league}", subject=f"ops-{league}")


def _foreign(league: str) -> list[str]:
    return [marker(o) for o in OWNERS if o != league]


PATH_VALUES = {  # a path parameter -> its value for an object of a league
    "game_id": lambda league: f"game_{marker(league)}",
    "server_id": lambda league: f"srv_{marker(league)}",
    "deployment_id": lambda league: f"dep_{marker(league)}",
    "league": lambda league: league or "NFL",
}


def _get_routes(app) -> list[tuple[str, list[str]]]:
    routes = []
    for path, ops in app.openapi()["paths"].items():
        if "get" in ops and not path.startswith("/v1/stream/"):  # streams never end: walked below per event kind
            routes.append((path, [p["name"] for p in ops["get"].get("parameters", []) if p["in"] == "query"]))
    return routes


def _urls(path: str, query: list[str], owner: str | None) -> list[str]:
    names = re.findall(r"{(\w+)}", path)
    url = path
    for name in names:
        url = url.replace(f"{{{name}}}", PATH_VALUES[name](owner))
    urls = [url]
    if "league" in query and owner is not None:
        urls.append(f"{url}?league={owner}")
    if "include_expired" in query:
        urls.append(f"{url}?include_expired=true")
    return urls


@pytest.mark.parametrize("league", LEAGUES)
def test_every_get_route_shows_nothing_of_another_league(app, league):
    client = TestClient(app, raise_server_exceptions=False)
    headers = admin_of(league)
    seen_own = 0
    for path, query in _get_routes(app):
        for owner in OWNERS:
            for url in _urls(path, query, owner):
                r = client.get(url, headers=headers)
                assert r.status_code in (200, 403, 404, 503), (url, r.status_code, r.text)
                text = r.text
                if r.status_code != 200:  # an error may name what the caller asked for, nothing else
                    text = text.replace(url.split("?")[0].rsplit("/", 1)[-1], "<asked>")
                for other in _foreign(league):
                    assert other not in text, f"{url} shows {other} to a {league} admin"
                seen_own += marker(league) in r.text
    assert seen_own >= 15  # the walk reached the objects of the credential's own league


def _attacks(league: str, other: str | None) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Per POST route, requests that reach for ``other``'s objects (or objects of no league)."""
    foreign_srv = f"srv_{marker(other)}"
    return {
        ("/v1/overrides", ""): [{"league": other, "reason": "playoffs", "min_agents": 5, "ttl_seconds": 600}],
        ("/v1/events", ""): [{"league": other, "kind": "breaking_news", "duration_seconds": 600}],
        ("/v1/silences", ""): [
            {"matchers": {"league": other} if other else {"alertname": "x"}, "comment": "abc", "duration_seconds": 600}
        ],
        ("/v1/deployments", ""): [
            {"version": "v2", "league": other, "targets": [foreign_srv]},
            {"version": "v2", "league": league, "targets": [f"srv_{marker(league)}", foreign_srv]},
            {"version": "v2", "league": league, "targets": ["a-server-nobody-knows"]},
            {"version": "v2", "targets": [foreign_srv]},
        ],
        ("/v1/deployments/{deployment_id}/rollback", f"dep_{marker(other)}"): [{"reason": "bad"}],
        ("/v1/deployments/{deployment_id}/rollback", "dep-nobody-knows"): [{"reason": "bad"}],
        ("/v1/tokens/revoke", ""): [{"jti": "0123456789abcdef"}],
        # "_action" fills the path's {action}: each operator action on another league's object
        ("/v1/tweets/{command_id}/{action}", f"tw_{marker(other)}"): [
            {"_action": "retry", "reason": "retry"},
            {"_action": "cancel"},
        ],
        ("/v1/accounts/{account}/{action}", other or "everyone"): [
            {"_action": "pause", "reason": "pause"},
            {"_action": "resume"},
        ],
    }


@pytest.mark.parametrize("league", LEAGUES)
def test_no_action_reaches_another_league(app, league):
    client = TestClient(app, raise_server_exceptions=False)
    sender = app.state.wirereport.sender
    sender.sent.clear()
    posts = {p for p, ops in app.openapi()["paths"].items() if "post" in ops}
    for other in (o for o in OWNERS if o != league):
        attacks = _attacks(league, other)
        assert {path for path, _ in attacks} == posts  # a new action must be added to this walk
        for (path, object_id), bodies in attacks.items():
            for body in bodies:
                body = dict(body)
                url = re.sub(r"{\w+}", object_id, path.replace("{action}", body.pop("_action", "")), count=1)
                r = client.post(url, headers=admin_of(league), json=body)
                assert r.status_code in (403, 404, 422), (url, body, r.status_code, r.text)
    assert sender.sent == []
    # and the same credential does act on its own league
    r = client.post(
        "/v1/deployments",
        headers=admin_of(league),
        json={"version": "v2", "league": league, "targets": [f"srv_{marker(league)}"]},
    )
    assert r.status_code == 202, r.text
    assert [t for t, _ in sender.sent] == ["deployment-events"]


async def _collect(response, until: str) -> list[dict]:
    """Events of an SSE response until one whose data holds ``until``."""
    events = []
    async for event in response.body_iterator:
        events.append(event)
        if until in event.get("data", ""):
            return events
    raise AssertionError("stream ended")


@pytest.mark.parametrize("league", LEAGUES)
def test_every_sse_event_kind_shows_nothing_of_another_league(app, league):
    state = app.state.wirereport
    rm = state.read_model
    principal = Principal(f"ops-{league}", frozenset({"read"}), frozenset({league}))
    visible = Visibility(principal)

    async def walk() -> list[dict]:
        events = []
        games = await stream_games(state, visible)
        alerts = await stream_alerts(state, visible)
        events += await _collect(games, "{}")  # the snapshot, then "ready"
        events += await _collect(alerts, "{}")
        for owner in OWNERS:  # every kind of change, for every owner
            m = marker(owner)
            rm.keyed["games"].apply(f"game_{m}", _with_league({"game_id": f"game_{m}", "status": "final"}, owner))
            rm.keyed["games"].apply(f"game_{m}", None)
            rm.logs["alert_history"].append(_with_league({"fingerprint": f"fp_{m}", "status": "resolved"}, owner))
        end = f"end_{marker(league)}"
        rm.keyed["games"].apply(end, {"game_id": end, "league": league})
        rm.logs["alert_history"].append({"fingerprint": end, "league": league, "status": "resolved"})
        events += await _collect(games, end)
        events += await _collect(alerts, end)
        for response in (games, alerts):
            await response.body_iterator.aclose()
            await response.background()
        return events

    events = asyncio.run(walk())
    kinds = {e["event"] for e in events}
    assert {"game", "game_deleted", "alert", "ready"} <= kinds
    for event in events:
        for other in _foreign(league):
            assert other not in event["data"], f"{event['event']} shows {other} to {league}"
    assert state.streams.open == 0
    # the event filter itself, for each kind, on a record of another league
    for other in (o for o in OWNERS if o != league):
        record = _with_league({"game_id": marker(other)}, other)
        assert sse_event({"key": "k", "record": record}, "game", visible) is None
        assert sse_event({"key": "k", "deleted": True, "previous": record}, "game", visible) is None
