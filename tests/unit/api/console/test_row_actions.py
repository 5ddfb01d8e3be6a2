"""The console's reversible actions in-process: cancelling an override, a league event or a silence from its row,
and switching feature flags, each through the API's own endpoint function (validation, league checks, audit)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from api.console import pages
from api.console.actions import ACTIONS, Action
from api.console.events import console_events
from api.deps import Visibility
from api.models import Accepted
from api.security import Principal
from schemas.codec import get_codec
from tests.unit.api.console.test_console import csrf_of, signed_in
from tests.unit.api.test_app import NBA_ADMIN_KEY

NOW = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
SCHEMAS = {
    "scaling-overrides": "ScalingOverride",
    "league-events": "LeagueEvent",
    "silences": "Silence",
    "feature-flags": "FeatureFlag",
}


def deliver(app, topic: str, record: dict) -> None:
    """What the read model does when the record comes back from Kafka."""
    key = str(record.get("override_id") or record.get("event_id") or record.get("silence_id") or record.get("flag_id"))
    app.state.wirereport.read_model.apply(topic, key.encode(), get_codec().encode(SCHEMAS[topic], record))


def produced(app, topic: str) -> list[dict]:
    return [record for t, record in app.state.wirereport.sender.sent if t == topic]


def row(html: str, key: str) -> str:
    match = re.search(rf'<tr data-key="{re.escape(key)}">.*?</tr>', html, re.S)
    assert match, f"no row {key}"
    return match.group(0)


def create_override(app, client) -> dict:
    form = {
        "csrf_token": csrf_of(client),
        "league": "NFL",
        "reason": "playoff game",
        "min_agents": "6",
        "ttl_seconds": "3600",
    }
    assert client.post("/console/actions/override", data=form, follow_redirects=False).status_code == 303
    [override] = produced(app, "scaling-overrides")
    deliver(app, "scaling-overrides", override)
    return override


def test_an_override_is_cancelled_from_its_row_and_then_shows_as_cancelled(app):
    client = signed_in(app)
    override = create_override(app, client)
    oid = override["override_id"]
    before = row(client.get("/console/scaling").text, oid)
    assert "s-active" in before and 'action="/console/actions/cancel_override"' in before
    assert f'name="override_id" value="{oid}"' in before
    assert re.search(r'<input name="reason"[^>]* required minlength="3"', before)  # a cancel is audited with a reason
    form = {"csrf_token": csrf_of(client), "override_id": oid, "reason": "game postponed"}
    r = client.post("/console/actions/cancel_override", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/scaling"
    [_, cancelled] = produced(app, "scaling-overrides")
    assert (cancelled["override_id"], cancelled["cancelled"], cancelled["league"]) == (oid, True, "NFL")
    assert cancelled["min_agents"] == 6 and cancelled["created_by"] == "ops"  # the original's fields are kept
    [audit] = produced(app, "audit-log")
    assert (audit["action"], audit["target"], audit["reason"], audit["actor"]) == (
        "override.cancel",
        oid,
        "game postponed",
        "ops",
    )
    deliver(app, "scaling-overrides", cancelled)
    page = client.get("/console/scaling").text
    assert f"Cancel override: accepted as {oid} on scaling-overrides" in page
    after = row(page, oid)
    assert "s-cancelled" in after and "cancel_override" not in after


def test_a_cancel_needs_a_reason_and_an_id_the_caller_may_see(app):
    client = signed_in(app)
    oid = create_override(app, client)["override_id"]
    form = {"csrf_token": csrf_of(client), "override_id": oid, "reason": ""}
    assert client.post("/console/actions/cancel_override", data=form, follow_redirects=False).status_code == 303
    assert "Cancel override: reason: Field required" in client.get("/console/scaling").text
    unknown = {**form, "override_id": "override-nope", "reason": "no such thing"}
    assert client.post("/console/actions/cancel_override", data=unknown).status_code == 404
    nba_admin = signed_in(app, api_key=NBA_ADMIN_KEY)
    assert oid not in nba_admin.get("/console/scaling").text
    other_league = {**form, "csrf_token": csrf_of(nba_admin), "reason": "not mine"}
    assert nba_admin.post("/console/actions/cancel_override", data=other_league).status_code == 404
    assert len(produced(app, "scaling-overrides")) == 1 and produced(app, "audit-log") == []


def test_an_event_and_a_silence_are_cancelled_from_their_rows(app):
    client = signed_in(app)
    event = {"csrf_token": csrf_of(client), "league": "NBA", "kind": "trade_deadline", "duration_seconds": "1800"}
    client.post("/console/actions/event", data=event, follow_redirects=False)
    silence = {
        "csrf_token": csrf_of(client),
        "matcher_alertname": "HighCpu",
        "matcher_league": "NFL",
        "duration_seconds": "600",
        "comment": "known issue",
    }
    client.post("/console/actions/silence", data=silence, follow_redirects=False)
    [created_event], [created_silence] = produced(app, "league-events"), produced(app, "silences")
    deliver(app, "league-events", created_event)
    deliver(app, "silences", created_silence)
    eid, sid = created_event["event_id"], created_silence["silence_id"]
    assert "cancel_event" in row(client.get("/console/scaling").text, eid)
    assert "cancel_silence" in row(client.get("/console/health").text, sid)
    csrf = csrf_of(client)
    client.post("/console/actions/cancel_event", data={"csrf_token": csrf, "event_id": eid, "reason": "called off"})
    client.post("/console/actions/cancel_silence", data={"csrf_token": csrf, "silence_id": sid, "reason": "fixed"})
    assert [bool(r.get("cancelled")) for r in produced(app, "league-events")] == [False, True]
    assert [bool(r.get("cancelled")) for r in produced(app, "silences")] == [False, True]
    assert [a["action"] for a in produced(app, "audit-log")] == ["event.cancel", "silence.cancel"]
    deliver(app, "league-events", produced(app, "league-events")[1])
    assert "s-cancelled" in row(client.get("/console/scaling").text, eid)
    deliver(app, "silences", produced(app, "silences")[1])
    assert sid not in client.get("/console/health").text  # a cancelled silence is no longer in force


def flag_row_html(html: str, name: str, league: str) -> str:
    match = re.search(rf'<tr data-flag="{re.escape(name)}" data-flag-league="{league}".*?</tr>', html, re.S)
    assert match, f"no {name} row for {league}"
    return match.group(0)


def test_a_scaling_flag_is_switched_in_one_click_and_shown_as_set(app):
    client = signed_in(app)
    before = flag_row_html(client.get("/console/scaling").text, "scaling.actions", "NFL")
    assert "s-on" in before and ">default<" in before and "Switch to forecast-only" in before
    form = dict(re.findall(r'name="([a-z_]+)"[^>]*? value="([^"]*)"', before.split("<form", 1)[1]))
    assert form["value"] == "forecast-only" and form["reason"] == "switched in the console"
    r = client.post("/console/actions/scaling_flag", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/scaling"
    [flag] = produced(app, "feature-flags")
    assert (flag["flag_id"], flag["name"], flag["value"], flag["league"], flag["set_by"]) == (
        "scaling.actions@NFL",
        "scaling.actions",
        "forecast-only",
        "NFL",
        "ops",
    )
    [audit] = produced(app, "audit-log")
    assert (audit["action"], audit["details"]) == ("flag.set", {"value": "forecast-only"})
    deliver(app, "feature-flags", flag)
    after = flag_row_html(client.get("/console/scaling").text, "scaling.actions", "NFL")
    assert "s-forecast-only" in after and "set for NFL" in after and "Switch to on" in after
    assert "s-on" in flag_row_html(client.get("/console/scaling").text, "scaling.actions", "NBA")


def test_a_tweets_flag_is_switched_per_account_on_the_tweets_page(app):
    client = signed_in(app)
    html = client.get("/console/tweets").text
    assert "Switch to off" in flag_row_html(html, "tweets.actions", "NBA")
    csrf = csrf_of(client, "/console/tweets")
    form = {"csrf_token": csrf, "league": "NBA", "value": "off", "reason": "bad night"}
    r = client.post("/console/actions/tweets_flag", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/tweets"
    [flag] = produced(app, "feature-flags")
    assert (flag["flag_id"], flag["value"]) == ("tweets.actions@NBA", "off")
    deliver(app, "feature-flags", flag)
    assert "s-off" in flag_row_html(client.get("/console/tweets").text, "tweets.actions", "NBA")


def test_bad_flag_input_is_explained_and_a_form_cannot_name_another_flag(app):
    client = signed_in(app)
    csrf = csrf_of(client, "/console/tweets")
    cases = [
        ({"value": "off", "reason": "whole service"}, "flag tweets.actions is set per league account"),
        ({"league": "NBA", "value": "maybe", "reason": "typo"}, "takes one of on, off"),
        ({"league": "NBA", "value": "off", "reason": "sneaky", "name": "scaling.actions"}, "name: Extra inputs"),
    ]
    for fields, message in cases:
        client.post("/console/actions/tweets_flag", data={"csrf_token": csrf, **fields}, follow_redirects=False)
        assert message in client.get("/console/tweets").text
    assert produced(app, "feature-flags") == []
    nba_admin = signed_in(app, api_key=NBA_ADMIN_KEY)
    html = nba_admin.get("/console/scaling").text
    assert 'data-flag-league="NBA"' in html and 'data-flag-league="NFL"' not in html
    form = {"csrf_token": csrf_of(nba_admin), "league": "NFL", "value": "forecast-only", "reason": "not mine"}
    assert nba_admin.post("/console/actions/scaling_flag", data=form).status_code == 403
    assert produced(app, "feature-flags") == []


def test_a_read_only_user_sees_the_flags_but_no_switch_and_is_refused(app):
    client = signed_in(app, scopes="read")
    for path in ("/console/scaling", "/console/tweets", "/console/health"):
        html = client.get(path).text
        assert "/console/actions/" not in html and 'name="reason"' not in html
    assert 'data-flag="tweets.actions"' in client.get("/console/tweets").text
    csrf = csrf_of(client)
    for name, form in [
        ("scaling_flag", {"league": "NFL", "value": "forecast-only", "reason": "sneaky"}),
        ("cancel_override", {"override_id": "override-x", "reason": "sneaky"}),
    ]:
        r = client.post(f"/console/actions/{name}", data={"csrf_token": csrf, **form})
        assert r.status_code == 403 and "admin" in r.text
    assert app.state.wirereport.sender.sent == []


# --- pure: statuses and flag rows ------------------------------------------------------------------------------
def test_override_and_event_statuses():
    later, earlier = (NOW + timedelta(minutes=5)).isoformat(), (NOW - timedelta(minutes=5)).isoformat()
    assert pages.override_status({"expires_at": later}, NOW) == "active"
    assert pages.override_status({"expires_at": earlier}, NOW) == "expired"
    assert pages.override_status({"expires_at": later, "cancelled": True}, NOW) == "cancelled"
    assert pages.event_status({"starts_at": later, "duration_seconds": 60}, NOW) == "upcoming"
    assert pages.event_status({"starts_at": earlier, "duration_seconds": 600}, NOW) == "active"
    assert pages.event_status({"starts_at": earlier, "duration_seconds": 60}, NOW) == "ended"
    assert pages.event_status({"starts_at": earlier, "duration_seconds": 600, "cancelled": True}, NOW) == "cancelled"


def test_in_effect_first_lists_active_ones_before_newer_ended_ones():
    records = [
        {"id": i, "at": f"2026-12-07T1{i}:00:00Z", "status": s}
        for i, s in enumerate(["active", "cancelled", "upcoming", "expired"])
    ]
    assert [r["id"] for r in pages.in_effect_first(records, "at")] == [2, 0, 3, 1]
    many = [{"at": str(i), "status": "expired"} for i in range(pages.OBJECTS_SHOWN + 5)]
    assert len(pages.in_effect_first(many, "at")) == pages.OBJECTS_SHOWN


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], ("on", "default", "forecast-only")),
        ([("scaling.actions", None, "forecast-only")], ("forecast-only", "global", "on")),
        (
            [("scaling.actions", None, "forecast-only"), ("scaling.actions", "NFL", "on")],
            ("on", "own", "forecast-only"),
        ),
        ([("scaling.actions", "NBA", "forecast-only")], ("on", "default", "forecast-only")),
    ],
    ids=["default", "every-league", "own-wins", "other-league"],
)
def test_a_flag_row_shows_the_value_that_applies_to_its_league(app, flags, expected):
    for name, league, value in flags:
        flag_id = name if league is None else f"{name}@{league}"
        deliver(
            app,
            "feature-flags",
            {
                "flag_id": flag_id,
                "name": name,
                "value": value,
                "league": league,
                "set_by": "ops",
                "set_at": NOW,
                "reason": "test",
            },
        )
    flag = pages.flag_row(app.state.wirereport.read_model, "scaling.actions", "NFL")
    assert (flag["value"], flag["source"], flag["next_value"]) == expected


def test_a_league_bound_reader_gets_flag_rows_of_its_leagues_only(app):
    rm = app.state.wirereport.read_model
    visible = Visibility(Principal("nba", frozenset({"read"}), frozenset({"NBA"})))
    assert [f["league"] for f in pages.scaling(rm, visible)["flags"]] == ["NBA"]
    assert [a["account"] for a in pages.tweets(rm, visible)["account_rows"]] == ["NBA"]


def test_every_row_action_names_what_it_acts_on():
    for name, action in ACTIONS.items():
        if action.target is None:
            continue
        hidden = action.hidden_for(
            {
                "override_id": "o1",
                "event_id": "e1",
                "silence_id": "s1",
                "command_id": "c1",
                "account": "NFL",
                "league": "NFL",
                "next_value": "off",
            }
        )
        assert hidden and all(hidden.values()), name
        assert action.asks_reason, name  # every reversible action is audited with a reason


def test_the_stream_replays_overrides_of_the_callers_leagues(app):
    for league in ("NFL", "NBA"):
        deliver(
            app,
            "scaling-overrides",
            {
                "override_id": f"o-{league}",
                "league": league,
                "reason": "test",
                "expires_at": NOW,
                "created_at": NOW,
                "created_by": "ops",
            },
        )
    views = {"overrides": app.state.wirereport.read_model.keyed["overrides"]}
    visible = Visibility(Principal("nba", frozenset({"read"}), frozenset({"NBA"})))

    async def first_two() -> list[dict]:
        stream = console_events(views, visible, lambda: None)
        events = [await anext(stream), await anext(stream)]
        await stream.aclose()
        return events

    events = asyncio.run(first_two())
    assert [e["event"] for e in events] == ["overrides", "ready"] and '"o-NBA"' in events[0]["data"]


def test_a_tweet_row_action_is_one_entry_in_actions(app, monkeypatch):
    """How the publisher's controls plug in: an Action with target "tweet" shows on each tweet row it applies to,
    names the row's command, and runs with it."""
    calls = []

    async def retry(body, state, principal, key, path):
        calls.append((path["command_id"], body.reason, principal.subject, key))
        return Accepted(command_id="control-1", topic="publisher-controls", record={})

    class RetryBody(BaseModel):  # like the publisher controls' body: the reason may be left out
        reason: str = ""

    action = Action(
        "Retry tweet",
        RetryBody,
        retry,
        "tweets",
        path_fields=("command_id",),
        target="tweet",
        applies=lambda t: t.get("publish_status") == "failed",
        button="Retry",
    )
    monkeypatch.setitem(ACTIONS, "tweet_retry", action)
    codec, rm = get_codec(), app.state.wirereport.read_model
    for i, status in enumerate(["failed", "posted"]):
        command = {
            "command_id": f"c{i}",
            "account": "NFL",
            "league": "NFL",
            "game_id": "g1",
            "play_id": f"p{i}",
            "text": "Touchdown!",
            "style": "score",
            "urgency": "high",
            "significance": 80.0,
            "win_prob_home": 0.7,
            "occurred_at": NOW,
        }
        rm.apply("tweet-commands", command["command_id"].encode(), codec.encode("TweetCommand", command))
        receipt = {
            "command_id": f"c{i}",
            "account": "NFL",
            "status": status,
            "tweet_id": None,
            "attempts": 1,
            "detail": "",
            "at": NOW,
        }
        rm.apply("tweet-receipts", receipt["command_id"].encode(), codec.encode("TweetReceipt", receipt))
    client = signed_in(app)
    html = client.get("/console/tweets").text
    assert 'name="command_id" value="c0"' in row(html, "c0") and ">Retry<" in row(html, "c0")
    assert "tweet_retry" not in row(html, "c1")  # a posted tweet is not retried
    reason_field = re.search(r'<input name="reason"[^>]*>', row(html, "c0")).group(0)
    assert "required" not in reason_field  # the model's reason is optional: so is the field
    form = {"csrf_token": csrf_of(client, "/console/tweets"), "command_id": "c0", "reason": "X is back"}
    r = client.post("/console/actions/tweet_retry", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/tweets"
    assert calls == [("c0", "X is back", "ops", None)]
    assert "Retry tweet: accepted as control-1 on publisher-controls" in client.get("/console/tweets").text
    assert "/console/actions/" not in signed_in(app, scopes="read").get("/console/tweets").text


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        (None, {"tweet_cancel"}),
        ("queued", {"tweet_cancel"}),
        ("held", {"tweet_retry", "tweet_cancel"}),
        ("failed", {"tweet_retry"}),
        ("posted", set()),
        ("duplicate", set()),
        ("skipped_limit", set()),
    ],
)
def test_a_tweet_row_offers_what_the_publisher_can_still_do(status, shown):
    row = {"command_id": "c1", "receipt": None if status is None else {"status": status}}
    offered = {name for name, a in ACTIONS.items() if a.target == "tweet" and a.applies(row)}
    assert offered == shown


def test_an_account_row_offers_pause_or_resume():
    offered = {name for name, a in ACTIONS.items() if a.target == "account" and a.applies({"paused": True})}
    assert "account_resume" in offered and "account_pause" not in offered


def test_a_tweet_that_comes_live_gets_every_tweet_action_for_the_page_to_show_what_its_status_allows(app):
    html = signed_in(app).get("/console/tweets").text
    live_row = re.search(r'data-view="tweets".*?<template>(.*?)</template>', html, re.S).group(1)
    assert "/console/actions/tweet_retry" in live_row and "/console/actions/tweet_cancel" in live_row
    assert live_row.count('name="command_id" value="" data-key-input') == 2  # console.js names the new row's tweet
    read_only = signed_in(app, scopes="read").get("/console/tweets").text
    assert "/console/actions/" not in read_only
