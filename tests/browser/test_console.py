"""The operator console in a real Chromium against a running stack replaying the NFL sample."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from api.console.pages import fmt, fmt_watch
from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import tweet_command, wait_until
from schemas.json_form import from_json
from streams.games import budget_outlook, tweet_budget
from tests.browser.conftest import DESKTOP, NFL_KEY, PHONE, sign_in, token

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
PAGES = {
    "today": "/console",
    "tweets": "/console/tweets",
    "scaling": "/console/scaling",
    "health": "/console/health",
    "deployments": "/console/deployments",
    "dead-letters": "/console/dead-letters",
}

WIDEST = """() => [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right >
  document.documentElement.clientWidth + 1 && !e.parentElement.closest('.scroll')).slice(0, 3).map((e) => e.outerHTML.slice(0, 120))"""


def card_text(page, game_id: str, field: str) -> str:
    return page.inner_text(f'[data-view="games"] [data-key="{game_id}"] [data-field="{field}"]').strip()


def test_today_shows_the_replayed_games_with_the_api_scores(chromium, stack):
    games = stack.games()
    assert {g["game_id"] for g in games} == stack.replayed_games and len(games) >= 5
    page = sign_in(chromium, stack)
    page.wait_for_selector("#live-status.on")
    for game in games:
        assert card_text(page, game["game_id"], "home_team") == game["home_team"]
        assert card_text(page, game["game_id"], "away_team") == game["away_team"]
        assert card_text(page, game["game_id"], "home_score") == str(game["home_score"])
        assert card_text(page, game["game_id"], "away_score") == str(game["away_score"])
    assert page.locator("canvas[data-wp]").count() == len(games)
    assert page.errors == []
    page.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_page_is_accessible_and_screenshotted(chromium, stack, viewport):
    page = sign_in(chromium, stack, viewport=viewport)
    name = "desktop" if viewport is DESKTOP else "phone"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, path in PAGES.items():
        page.goto(path)
        page.wait_for_selector("#live-status.on, #live-status.off")
        page.screenshot(path=str(SCREENSHOTS / f"{label}-{name}.png"), full_page=label != "today")
        if label == "today":  # below the game cards: the budgets have a picture of their own
            budgets = page.locator("section[aria-labelledby='budgets-title']")
            budgets.screenshot(path=str(SCREENSHOTS / f"today-budget-{name}.png"))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert bad == [], f"{path}: {bad}"
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        widest = page.evaluate(WIDEST)
        assert overflow <= 1, f"{path} is wider than the {name} screen by {overflow}px: {widest}"
    assert page.errors == []
    page.context.close()


def test_today_shows_each_budget_s_reserve_rolling_count_and_watched_games_as_the_api_does(chromium, stack):
    headers = {"Authorization": f"Bearer {token('read')}"}
    budgets = {
        lg: stack.api.get(f"/v1/leagues/{lg}/budget", headers=headers).json()["budgets"][0] for lg in ("NFL", "NBA")
    }
    nfl, nba = budgets["NFL"]["outlook"], budgets["NBA"]["outlook"]
    # the worker's budget of the replayed afternoon: the schedule's games, none over, most decisive moments ahead
    teams = {g["game_id"]: f"{g['away_team']} @ {g['home_team']}" for g in stack.games()}
    assert len(nfl["watching"]) == 4 and all(w["matchup"] == teams[w["game_id"]] for w in nfl["watching"])
    assert nfl["rolling_24h"] == budgets["NFL"]["used"] and 0 < nfl["reserve"] <= nfl["left"]
    # the NBA evening's (seeded): 3 tweets in the last hour, the first leaves X's window 24 hours after it was made
    first = tweet_budget.epoch(budgets["NBA"]["recent_tweets"][0])
    assert (nba["rolling_24h"], nba["room_now"], nba["left"]) == (3, 14, 14)
    assert nba["window_frees_at"] == budget_outlook.as_of_iso(first + 24 * 3600)
    assert [w["matchup"] for w in nba["watching"]] == ["BOS @ LAL", "NYK @ MIA", "PHX @ DEN"]

    page = sign_in(chromium, stack)
    page.wait_for_selector("#live-status.on")
    formats = {"used": "num", "limit": "num", "left": "num", "reserve": "num", "rolling_24h": "num", "spare": "num",
               "decisive_bar": "pct", "surplus_bar": "num2", "decisive_ahead": "num2", "as_of": "time"}  # fmt: skip
    for league, budget in budgets.items():
        card = f'[data-view="budgets"] [data-key="{league}"]'
        expected = {name: fmt({**budget, **budget["outlook"]}[name], f) for name, f in formats.items()}
        assert {name: page.inner_text(f'{card} [data-field="{name}"]').strip() for name in formats} == expected
        watched = page.locator(f"{card} ol.watching li").all_inner_texts()
        assert watched == [fmt_watch(w) for w in budget["outlook"]["watching"]]
    assert page.errors == []
    page.context.close()


def test_a_tweet_command_shows_on_the_open_page_within_two_seconds(chromium, stack):
    page = sign_in(chromium, stack)
    page.wait_for_selector("#live-status.on")
    game = stack.games()[0]
    at = datetime.fromisoformat(game["updated_at"].replace("Z", "+00:00"))  # on the game's own time line
    command = tweet_command("NFL", f"console-{uuid.uuid4().hex[:8]}", at, game_id=game["game_id"])
    selector = f'[data-view="tweets"] [data-key="{command["command_id"]}"]'
    with EdgeProducer(stack.bootstrap) as producer:
        started = time.monotonic()
        producer.send("tweet-commands", command)
        producer.flush()
    page.wait_for_selector(selector, timeout=2000)
    assert time.monotonic() - started < 2.0
    assert command["text"] in page.inner_text(selector)
    page.context.close()


def test_an_override_created_in_the_console_reaches_scaling_overrides(chromium, stack):
    page = sign_in(chromium, stack)
    page.goto("/console/scaling")
    reason = f"console override {uuid.uuid4().hex[:8]}"
    page.select_option("#override-league", "NFL")
    page.fill("#override-reason", reason)
    page.fill("#override-min_agents", "6")
    page.fill("#override-ttl_seconds", "900")
    page.click("form[action='/console/actions/override'] button[type=submit]")
    page.wait_for_selector(".flash.ok")
    assert "accepted as override-" in page.inner_text(".flash.ok")

    def produced():
        found = [r for _, r in consume_records(stack.bootstrap, "scaling-overrides", timeout=1.0)]
        return next((r for r in found if r.get("reason") == reason), None)

    override = wait_until(produced, 15, message="the console's override never reached scaling-overrides")
    assert (override["league"], override["min_agents"], override["created_by"]) == ("NFL", 6, "ops")

    # Cancel it from its row: the row comes live (or with a reload) with a Cancel button naming it
    row = f'[data-view="overrides"] [data-key="{override["override_id"]}"]'
    page.wait_for_selector(f"{row} form button", timeout=15000)
    assert page.inner_text(f'{row} [data-field="status"]') == "active"
    page.fill(f"{row} input[name=reason]", "opponent forfeited")
    with page.expect_navigation():
        page.click(f"{row} button[type=submit]")
    assert f"Cancel override: accepted as {override['override_id']} on scaling-overrides" in page.inner_text(
        ".flash.ok"
    )
    page.wait_for_selector(f'{row} [data-field="status"] .s-cancelled', timeout=15000)
    assert page.inner_text(f'{row} [data-field="status"]') == "cancelled" and page.is_hidden(f"{row} form")

    def cancelled():
        found = [r for _, r in consume_records(stack.bootstrap, "scaling-overrides", timeout=1.0)]
        return next((r for r in found if r["override_id"] == override["override_id"] and r["cancelled"]), None)

    record = wait_until(cancelled, 15, message="the console's cancellation never reached scaling-overrides")
    assert (record["league"], record["min_agents"], record["reason"]) == ("NFL", 6, reason)  # the original's fields
    page.reload()
    assert page.inner_text(f'{row} [data-field="status"]') == "cancelled" and page.locator(f"{row} form").count() == 0
    assert page.errors == []
    page.context.close()


def flag_records(stack, flag_id: str) -> list[dict]:
    return [r for _, r in consume_records(stack.bootstrap, "feature-flags", timeout=1.0) if r["flag_id"] == flag_id]


@pytest.mark.parametrize(
    ("path", "name", "values"),
    [
        ("/console/scaling", "scaling.actions", ("on", "forecast-only")),
        ("/console/tweets", "tweets.actions", ("on", "off")),
    ],
    ids=["scaling", "tweets"],
)
def test_a_flag_switched_in_the_console_reaches_feature_flags(chromium, stack, path, name, values):
    page = sign_in(chromium, stack)
    page.goto(path)
    page.wait_for_selector("#live-status.on")
    row = f'tr[data-flag="{name}"][data-flag-league="NFL"]'
    assert page.inner_text(f'{row} [data-field="value"]') == values[0]
    before = len(flag_records(stack, f"{name}@NFL"))
    for value, back in (values[::-1], values):  # there and back: the row follows the flag live
        assert page.inner_text(f"{row} button") == f"Switch to {value}"
        with page.expect_navigation():
            page.click(f"{row} button")
        assert f"accepted as {name}@NFL on feature-flags" in page.inner_text(".flash.ok")
        page.wait_for_selector(f'{row} [data-field="value"] .s-{value}', timeout=15000)
        assert page.inner_text(f'{row} [data-field="source"]') == "set for NFL"
        assert page.inner_text(f"{row} button") == f"Switch to {back}"

    def both_switches():
        records = flag_records(stack, f"{name}@NFL")[before:]
        return records if len(records) >= 2 else None

    records = wait_until(both_switches, 15, message=f"the console's {name} switches never reached feature-flags")
    assert [(r["value"], r["league"], r["set_by"], r["reason"]) for r in records] == [
        (values[1], "NFL", "ops", "switched in the console"),
        (values[0], "NFL", "ops", "switched in the console"),
    ]
    assert page.errors == []
    page.context.close()


def test_a_read_only_user_sees_no_action_and_is_refused_when_posting(chromium, stack):
    page = sign_in(chromium, stack, token_value=token("read", subject="viewer"))
    for path in ("/console/scaling", "/console/health", "/console/deployments", "/console/tweets"):
        page.goto(path)
        assert page.locator("form.action, form.inline").count() == 0, path
        assert page.locator("main button").count() == 0, path
    csrf = page.get_attribute("form[action='/console/logout'] input[name=csrf_token]", "value")
    r = page.request.post(
        "/console/actions/override",
        form={"csrf_token": csrf, "league": "NFL", "reason": "sneaky", "ttl_seconds": "900"},
        max_redirects=0,
    )
    assert r.status == 403 and "admin" in r.text()
    page.context.close()


def test_a_form_post_without_the_csrf_token_is_refused(chromium, stack):
    page = sign_in(chromium, stack)
    form = {"league": "NFL", "reason": "no token", "ttl_seconds": "900"}
    r = page.request.post("/console/actions/override", form=form, max_redirects=0)
    assert r.status == 403 and "CSRF" in r.text()
    r = page.request.post("/console/actions/override", form={**form, "csrf_token": "forged"}, max_redirects=0)
    assert r.status == 403
    page.context.close()


def test_a_league_bound_key_sees_only_its_league(chromium, stack):
    with EdgeProducer(stack.bootstrap) as producer:
        nba_game = from_json("GameState", {**stack.games()[0], "game_id": "nba-console-1", "league": "NBA"})
        producer.send("game-state", nba_game)
    wait_until(lambda: any(g["game_id"] == "nba-console-1" for g in stack.games()), 10)
    page = sign_in(chromium, stack, api_key=NFL_KEY)
    assert page.locator('[data-key="nba-console-1"]').count() == 0
    assert page.locator("#league-NBA").count() == 0 and page.locator("#league-NFL").count() == 1
    assert page.goto("/console/dead-letters").status == 403  # raw records of any league: not for a league's key
    page.context.close()
