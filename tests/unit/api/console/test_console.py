"""The operator console in-process (TestClient, views fed directly): sign-in, sessions, CSRF, scopes, leagues,
actions through the API's own endpoint functions, the page's SSE stream, and the pure page builders."""

from __future__ import annotations

import asyncio
import base64
import re

import jwt
from fastapi.testclient import TestClient

from api.console import pages
from api.console.events import console_events
from api.console.sessions import COOKIE, SessionStore
from api.deps import Visibility
from api.read_model import WinProbHistory
from api.security import Principal
from api.views import raw_preview
from schemas.codec import get_codec
from tests.unit.api.test_app import NBA_ADMIN_KEY, NFL_KEY, token
from tests.unit.api.test_views import game


def signed_in(app, *, scopes: str = "admin", api_key: str | None = None, subject: str = "ops") -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    form = {"api_key": api_key} if api_key else {"token": token(scopes, subject=subject)}
    r = client.post("/console/login", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console", r.text
    return client


def csrf_of(client: TestClient, path: str = "/console/scaling") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


# --- sign in, sessions -----------------------------------------------------------------------------------------
def test_without_a_session_the_console_sends_to_the_sign_in_page(app):
    client = TestClient(app)
    r = client.get("/console/health", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login?next=/console/health"
    page = client.get("/console/login")
    assert page.status_code == 200 and 'name="token"' in page.text and 'name="api_key"' in page.text


def test_sign_in_sets_an_httponly_samesite_cookie_that_is_not_the_credential(app):
    client = TestClient(app)
    credential = token("read")
    r = client.post("/console/login", data={"token": credential, "next": "/console/tweets"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/tweets"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/console" in cookie and credential not in cookie and "Max-Age=" in cookie
    today = client.get("/console")
    assert today.status_code == 200 and "text/html" in today.headers["content-type"]
    assert "default-src 'self'" in today.headers["content-security-policy"]


def test_the_today_page_is_rendered_with_teams_and_scores(app):
    html = signed_in(app, scopes="read").get("/console").text
    card = html[html.index('data-key="g1"') :]
    assert re.search(r'data-field="home_score">7<', card) and re.search(r'data-field="away_score">3<', card)
    assert 'data-field="home_team">NE<' in card and 'data-field="away_team">NYJ<' in card


def test_a_wrong_credential_is_refused_and_gets_no_session(app):
    client = TestClient(app)
    r = client.post("/console/login", data={"token": "not-a-jwt"}, follow_redirects=False)
    assert r.status_code == 401 and "set-cookie" not in r.headers and "Sign in" in r.text
    r = client.post("/console/login", data={"api_key": "guessed-key-000000"}, follow_redirects=False)
    assert r.status_code == 401
    assert client.post("/console/login", data={}, follow_redirects=False).status_code == 401


def test_sign_in_goes_back_only_to_a_console_page(app):
    client = TestClient(app)
    for target in ("https://evil.example/", "//evil.example", "/v1/games"):
        r = client.post("/console/login", data={"token": token("read"), "next": target}, follow_redirects=False)
        assert r.headers["location"] == "/console"


def test_logout_needs_the_csrf_token_and_ends_the_session(app):
    client = signed_in(app)
    assert client.post("/console/logout", follow_redirects=False).status_code == 403
    assert client.post("/console/logout", json={"csrf_token": "x"}, follow_redirects=False).status_code == 415
    r = client.post("/console/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert len(app.state.console_sessions) == 0
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_revoked_token_ends_its_session(app):
    client = TestClient(app)
    credential = token("admin")
    jti = jwt.decode(credential, options={"verify_signature": False})["jti"]
    client.post("/console/login", data={"token": credential}, follow_redirects=False)
    assert client.get("/console", follow_redirects=False).status_code == 200
    revocation = {"jti": jti, "reason": "lost laptop", "revoked_by": "ops", "revoked_at": 0}
    encoded = get_codec().encode("TokenRevocation", revocation)
    app.state.wirereport.read_model.apply("token-revocations", jti.encode(), encoded)
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_sessions_expire_and_are_bounded():
    now = [1000.0]
    store = SessionStore(lifetime=60, max_sessions=2, clock=lambda: now[0])
    principal = Principal("ops", frozenset({"read"}))
    first = store.create(principal)
    short = store.create(principal, not_after=1010.0)
    assert store.get(first.session_id) is first and store.seconds_left(short) == 10
    now[0] = 1011.0
    assert store.get(short.session_id) is None and store.get(first.session_id) is first
    store.create(principal)
    store.create(principal)
    assert store.get(first.session_id) is None and len(store) == 2  # the oldest is forgotten first
    now[0] = 1100.0
    assert all(store.get(s) is None for s in list(store._sessions))
    assert first.csrf_token != short.csrf_token and not first.csrf_ok(None) and first.csrf_ok(first.csrf_token)


# --- actions -----------------------------------------------------------------------------------------------------
def test_an_override_action_produces_the_api_command_once_per_form(app):
    client = signed_in(app)
    sender = app.state.wirereport.sender
    form = {
        "csrf_token": csrf_of(client),
        "idempotency_key": "form-1",
        "league": "NFL",
        "reason": "playoff game",
        "min_agents": "6",
        "max_agents": "",
        "ttl_seconds": "3600",
    }
    r = client.post("/console/actions/override", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/scaling"
    assert "accepted as override-" in client.get("/console/scaling").text
    client.post("/console/actions/override", data=form, follow_redirects=False)  # a double submit
    [(topic, first), (_, second)] = sender.sent
    assert topic == "scaling-overrides" and first["override_id"] == second["override_id"]
    assert (first["league"], first["min_agents"], first["max_agents"], first["created_by"]) == ("NFL", 6, None, "ops")


def test_bad_action_input_is_explained_and_nothing_is_produced(app):
    client = signed_in(app)
    form = {"csrf_token": csrf_of(client), "league": "NFL", "reason": "x", "ttl_seconds": "5"}
    r = client.post("/console/actions/override", data=form, follow_redirects=False)
    assert r.status_code == 303 and app.state.wirereport.sender.sent == []
    page = client.get("/console/scaling").text
    assert "Create override: reason:" in page and "ttl_seconds:" in page


def test_silence_and_deployment_forms_become_their_commands(app):
    client = signed_in(app)
    silence = {
        "csrf_token": csrf_of(client, "/console/health"),
        "matcher_alertname": "HighCpu",
        "matcher_league": "NFL",
        "matcher_server_id": "",
        "duration_seconds": "600",
        "comment": "known",
    }
    assert client.post("/console/actions/silence", data=silence, follow_redirects=False).status_code == 303
    deploy = {"csrf_token": csrf_of(client), "version": "v2.0.1", "league": "", "targets": "", "strategy": "canary"}
    assert client.post("/console/actions/deploy", data=deploy, follow_redirects=False).status_code == 303
    rollback = {"csrf_token": csrf_of(client), "deployment_id": "dep-1", "reason": "errors up"}
    assert client.post("/console/actions/rollback", data=rollback, follow_redirects=False).status_code == 303
    sent = app.state.wirereport.sender.sent
    assert [t for t, _ in sent] == ["silences", "deployment-events", "deployment-events"]
    assert sent[0][1]["matchers"] == {"alertname": "HighCpu", "league": "NFL"}
    assert (sent[1][1]["kind"], sent[1][1]["version"]) == ("request", "v2.0.1")
    assert (sent[2][1]["kind"], sent[2][1]["deployment_id"], sent[2][1]["detail"]) == ("rollback", "dep-1", "errors up")


def test_a_post_without_the_csrf_token_is_refused(app):
    client = signed_in(app)
    form = {"league": "NFL", "reason": "no token", "ttl_seconds": "3600"}
    assert client.post("/console/actions/override", data=form).status_code == 403
    assert client.post("/console/actions/override", data={**form, "csrf_token": "forged"}).status_code == 403
    other = signed_in(app, subject="someone-else")
    form["csrf_token"] = csrf_of(other)  # another session's token
    assert client.post("/console/actions/override", data=form).status_code == 403
    assert app.state.wirereport.sender.sent == []


def test_a_read_only_user_sees_no_action_and_is_refused(app):
    client = signed_in(app, scopes="read")
    for path in ("/console/scaling", "/console/health", "/console/deployments"):
        assert "/console/actions/" not in client.get(path).text
    form = {"csrf_token": csrf_of(client), "league": "NFL", "reason": "sneaky", "ttl_seconds": "3600"}
    r = client.post("/console/actions/override", data=form)
    assert r.status_code == 403 and "admin" in r.text
    assert client.get("/console/dead-letters").status_code == 403
    assert app.state.wirereport.sender.sent == []


def test_a_league_bound_credential_sees_and_acts_only_on_its_league(app):
    reader = signed_in(app, api_key=NFL_KEY)
    html = reader.get("/console").text
    assert 'data-key="g1"' in html and 'data-key="g2"' not in html  # g2 is an NBA game
    admin = signed_in(app, api_key=NBA_ADMIN_KEY)
    assert "<option>NBA</option>" in admin.get("/console/scaling").text
    assert "<option>NFL</option>" not in admin.get("/console/scaling").text
    form = {"csrf_token": csrf_of(admin), "league": "NFL", "reason": "not mine", "ttl_seconds": "3600"}
    assert admin.post("/console/actions/override", data=form).status_code == 403
    assert admin.get("/console/dead-letters").status_code == 403  # raw records of any league
    assert app.state.wirereport.sender.sent == []


def test_an_unknown_action_is_404(app):
    client = signed_in(app)
    assert client.post("/console/actions/cancel", data={"csrf_token": csrf_of(client)}).status_code == 404


# --- pages -------------------------------------------------------------------------------------------------------
def test_dead_letters_page_previews_the_raw_record(app):
    rm = app.state.wirereport.read_model
    letter = {
        "source_topic": "plays",
        "partition": 1,
        "offset": 7,
        "key": b"k1",
        "value": b'{"bad": \xff}',
        "reason": "SchemaError: bad",
        "agent": "games",
        "failed_at": 0,
    }
    rm.apply("dead-letters", None, get_codec().encode("DeadLetter", letter))
    html = signed_in(app).get("/console/dead-letters").text
    assert "partition 1, offset 7" in html and "SchemaError: bad" in html
    assert "7b 22 62 61 64 22 3a 20 ff 7d" in html and "{&#34;bad&#34;: \ufffd}" in html


def test_raw_preview_cuts_long_values_and_survives_bad_base64():
    raw = bytes(range(256)) * 2
    preview = raw_preview(base64.b64encode(raw).decode(), limit=4)
    assert preview == {"size": 512, "hex": "00 01 02 03", "text": "\x00\x01\x02\x03", "truncated": True}
    assert raw_preview("%%%")["text"] == "%%%" and raw_preview(None) is None


def test_win_prob_history_is_bounded_ordered_and_replaces_a_redelivered_play():
    history = WinProbHistory(per_game=3, games=2)
    for minute, wp in [(1, 0.5), (2, 0.6), (2, 0.65), (1, 0.1), (3, 0.7), (4, 0.8)]:
        history.add({"game_id": "g", "updated_at": f"2026-01-01T00:0{minute}:00Z", "win_prob_home": wp})
    assert [p["wp"] for p in history.of("g")] == [0.65, 0.7, 0.8]
    history.add({"game_id": "h", "updated_at": "x", "win_prob_home": None})  # no probability: no point
    history.add({"game_id": "h", "updated_at": "x", "win_prob_home": 0.5})
    history.add({"game_id": "i", "updated_at": "x", "win_prob_home": 0.5})
    assert history.of("g") == [] and len(history.of("i")) == 1


def test_page_formatting_and_publish_status():
    live = {"status": "live", "period": 4, "clock_seconds": 95}
    assert pages.fmt_clock(live) == "Q4 1:35" and pages.fmt_clock({**live, "period": 5}) == "OT 1:35"
    assert pages.fmt_clock({"status": "final"}) == "Final"
    assert pages.fmt(0.634, "pct") == "63%" and pages.fmt(62.0, "num") == "62" and pages.fmt(62.0, "num1") == "62.0"
    assert pages.fmt(None, "num") == pages.DASH and pages.fmt(["a", "b"]) == "a, b"
    assert pages.fmt("2026-11-22T18:00:05.120Z", "time") == "18:00:05"
    assert [pages.publish_status(r) for r in (None, {"status": "posted"}, {"status": "skipped_limit"})] == [
        "decided",
        "posted",
        "held",
    ]
    assert pages.budget_row({"limit": 17, "used": 20})["left"] == 0
    # fixed decimals round as the browser does (half up on the shortest decimal): a live update shows the same
    assert [pages.fmt(v, "num2") for v in (0.205, 0.2049, 1234.5, 3)] == ["0.21", "0.20", "1,234.50", "3.00"]
    assert pages.fmt(0.25, "num1") == "0.3" and pages.fmt(-0.25, "num1") == "-0.3"


def test_today_puts_live_games_first_and_draws_tweets_on_the_line(app):
    rm = app.state.wirereport.read_model
    codec = get_codec()
    rm.apply("game-state", b"g3", codec.encode("GameState", game("g3", 0, 0, "NFL", status="scheduled")))
    command = {
        "command_id": "c1",
        "account": "NFL",
        "league": "NFL",
        "game_id": "g1",
        "play_id": "p9",
        "text": "Touchdown!",
        "style": "score",
        "urgency": "high",
        "significance": 80.0,
        "win_prob_home": 0.7,
        "occurred_at": game("g1")["updated_at"],
    }
    rm.apply("tweet-commands", b"c1", codec.encode("TweetCommand", command))
    context = pages.today(rm, Visibility(Principal("ops", frozenset({"read"}))))
    assert [g["game_id"] for g in context["slate"]["NFL"]] == ["g1", "g3"]
    assert context["lines"]["g1"]["tweets"][0]["text"] == "Touchdown!"
    assert context["live"] == 1


# --- the page's live stream -------------------------------------------------------------------------------------
def test_the_console_stream_replays_then_follows_and_filters_by_league(app):
    rm = app.state.wirereport.read_model
    views = {"games": rm.keyed["games"], "tweets": rm.logs["tweets"]}
    visible = Visibility(Principal("nfl", frozenset({"read"}), frozenset({"NFL"})))
    released = []

    async def walk() -> list[dict]:
        stream = console_events(views, visible, lambda: released.append(True))
        events = [await anext(stream)]  # g1 (NFL); g2 (NBA) is filtered
        events.append(await anext(stream))
        assert events[-1]["event"] == "ready"
        rm.keyed["games"].apply("g9", {**game("g9", 1, 0, "NBA"), "updated_at": "x"})
        rm.keyed["games"].apply("g1", {**game("g1", 14, 3, "NFL"), "updated_at": "x"})
        rm.keyed["games"].apply("g1", None)
        events.append(await anext(stream))
        events.append(await anext(stream))
        await stream.aclose()
        return events

    events = asyncio.run(walk())
    assert [e["event"] for e in events] == ["games", "ready", "games", "games_deleted"]
    assert '"g1"' in events[0]["data"] and '"home_score":14' in events[2]["data"]
    assert released == [True] and len(rm.keyed["games"].subscribers) == 0


def test_the_stream_endpoint_accepts_only_console_views(app):
    client = signed_in(app)
    assert client.get("/console/events", params={"views": "revocations"}).status_code == 422
    assert TestClient(app).get("/console/events", follow_redirects=False).status_code == 303
