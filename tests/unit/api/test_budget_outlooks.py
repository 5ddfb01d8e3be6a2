"""The budgets as the API and the console show them: each ``tweet-budgets`` record with its outlook (reserve,
rolling 24-hour count, bars, watched games), computed on the read side from the record and the schedule."""

from __future__ import annotations

import asyncio
import re

from fastapi.testclient import TestClient

from api.console.events import console_events
from api.deps import Visibility
from api.security import Principal
from schemas.codec import get_codec
from streams.games import budget_outlook, tweet_budget
from tests.unit.api.console.test_console import signed_in
from tests.unit.api.test_app import NFL_KEY, bearer, make_app

SLATE = "2018-09-09"


def scheduled(game_id: str, home: str, away: str, league: str = "NFL") -> dict:
    return {"league": league, "game_id": game_id, "home_team": home, "away_team": away,
            "scheduled_start": tweet_budget.to_datetime("2018-09-09T17:00:00Z")}  # fmt: skip


def budget_record(league: str = "NFL") -> dict:
    """An afternoon: one game late and close, one in the 2nd quarter, 3 tweets in the window (one of yesterday)."""
    state = tweet_budget.new_state(league, SLATE, 17)
    state = tweet_budget.with_game_position(state, "g-late", [13, 0, False])
    state = tweet_budget.with_game_position(state, "g-early", [4, 1, False])
    state = tweet_budget.spend(state, "g-late", "p0", "2018-09-08T23:30:00Z")  # yesterday's slate: window only
    state = {**state, "used": 0, "tweeted": []}
    for i in (1, 2):
        state = tweet_budget.spend(state, "g-late", f"p{i}", f"2018-09-09T21:0{i}:00Z")
    return tweet_budget.to_record(state, "2018-09-09T22:00:00Z")


def feed(app, topic: str, key: str, schema: str, record: dict) -> None:
    app.state.wirereport.read_model.apply(topic, key.encode(), get_codec().encode(schema, record))


def test_the_budget_endpoint_answers_each_budget_with_its_outlook():
    app = make_app()
    feed(app, "league-events", "g-late", "ScheduledGame", scheduled("g-late", "DET", "NYJ"))
    feed(app, "league-events", "g-night", "ScheduledGame", scheduled("g-night", "PHI", "ATL"))
    feed(app, "tweet-budgets", "NFL", "TweetBudget", budget_record())
    client = TestClient(app)
    [budget] = client.get("/v1/leagues/NFL/budget", headers=bearer()).json()["budgets"]
    outlook = budget["outlook"]
    assert (budget["used"], budget["limit"]) == (2, 17)
    assert (outlook["left"], outlook["rolling_24h"], outlook["room_now"]) == (15, 3, 14)
    assert outlook["window_frees_at"] == "2018-09-09T23:30:00Z" and outlook["as_of"] == "2018-09-09T22:00:00Z"
    assert outlook["reserve"] == tweet_budget.reserve_for(outlook["decisive_ahead"]) and outlook["spare"] >= 1
    watched = [(w["game_id"], w["matchup"], w["stage"]) for w in outlook["watching"]]
    assert ("g-late", "NYJ @ DET", "Q4 under 2:00") in watched and ("g-night", "ATL @ PHI", "not started") in watched
    assert ("g-early", "g-early", "Q2") in watched  # neither the schedule nor a game state names its teams
    # the figures are the pure module's, on the record as published and the schedule the API read
    index = app.state.wirereport.read_model.budget_outlooks.schedule()
    expected = budget_outlook.of_record(budget_record(), "NFL", index)
    assert {k: v for k, v in outlook.items() if k != "watching"} == {
        k: v for k, v in expected.items() if k != "watching"
    }
    assert client.get("/v1/leagues/NFL/budget", headers={"X-API-Key": NFL_KEY}).json()["budgets"] == [budget]


def test_a_game_added_to_the_slate_later_recomputes_the_budget_and_tells_the_stream():
    app = make_app()
    rm = app.state.wirereport.read_model
    feed(app, "tweet-budgets", "NFL", "TweetBudget", budget_record())
    before = rm.keyed["budgets"].get("NFL")["outlook"]
    sub = rm.keyed["budgets"].subscribers.subscribe()
    feed(app, "league-events", "g-night", "ScheduledGame", scheduled("g-night", "PHI", "ATL"))
    feed(app, "league-events", "n-1", "ScheduledGame", scheduled("n-1", "BOS", "NYK", league="NBA"))  # not NFL's
    after = rm.keyed["budgets"].get("NFL")["outlook"]
    assert after["decisive_ahead"] > before["decisive_ahead"]  # the night game's decisive moments are counted
    assert "g-night" in [w["game_id"] for w in after["watching"]]
    assert sub.queue.qsize() == 1 and sub.queue.get_nowait()["record"]["outlook"] == after
    feed(app, "league-events", "g-night", "ScheduledGame", scheduled("g-night", "PHI", "ATL"))  # redelivered
    assert sub.queue.qsize() == 0


def test_an_account_that_is_no_league_s_is_shown_as_published():
    app = make_app()
    record = {**budget_record(), "account": "nfl-fans"}
    feed(app, "tweet-budgets", "nfl-fans", "TweetBudget", record)
    assert "outlook" not in app.state.wirereport.read_model.keyed["budgets"].get("nfl-fans")


def test_the_today_page_renders_the_outlook_and_its_stream_carries_it():
    app = make_app()
    feed(app, "league-events", "g-late", "ScheduledGame", scheduled("g-late", "DET", "NYJ"))
    feed(app, "tweet-budgets", "NFL", "TweetBudget", budget_record())
    outlook = app.state.wirereport.read_model.keyed["budgets"].get("NFL")["outlook"]
    html = signed_in(app, scopes="read").get("/console").text
    card = html[html.index('<article class="panel budget" data-key="NFL">') :]
    card = card[: card.index("</article>")]

    def shown(field: str) -> str:
        return re.search(rf'data-field="{field}"[^>]*>([^<]*)<', card).group(1)

    assert (shown("used"), shown("left"), shown("reserve")) == ("2", "15", str(outlook["reserve"]))
    assert (shown("rolling_24h"), shown("limit"), shown("as_of")) == ("3", "17", "22:00:00")
    assert shown("decisive_bar") == f"{outlook['decisive_bar'] * 100:.0f}%"
    assert shown("surplus_bar") == f"{outlook['surplus_bar']:.2f}"
    late = next(w for w in outlook["watching"] if w["game_id"] == "g-late")
    assert (
        f'<li data-game="g-late">NYJ @ DET · Q4 under 2:00, toss-up · {late["decisive_ahead"]:.2f} decisive ahead'
        in card
    )

    async def first_event() -> dict:
        rm = app.state.wirereport.read_model
        stream = console_events(
            {"budgets": rm.keyed["budgets"]}, Visibility(Principal("ops", frozenset({"read"}))), list
        )
        event = await anext(stream)
        await stream.aclose()
        return event

    event = asyncio.run(first_event())
    assert event["event"] == "budgets" and '"rolling_24h":3' in event["data"] and '"watching":[' in event["data"]


def test_a_game_moved_to_another_slate_leaves_the_budget_s_reserve():
    app = make_app()
    rm = app.state.wirereport.read_model
    feed(app, "league-events", "g-night", "ScheduledGame", scheduled("g-night", "PHI", "ATL"))
    feed(app, "tweet-budgets", "NFL", "TweetBudget", budget_record())
    assert "g-night" in [w["game_id"] for w in rm.keyed["budgets"].get("NFL")["outlook"]["watching"]]
    moved = {**scheduled("g-night", "PHI", "ATL"), "scheduled_start": tweet_budget.to_datetime("2018-09-10T17:00:00Z")}
    feed(app, "league-events", "g-night", "ScheduledGame", moved)  # postponed to Monday
    assert "g-night" not in [w["game_id"] for w in rm.keyed["budgets"].get("NFL")["outlook"]["watching"]]
