"""The budget's outlook for operators: reserve, rolling 24-hour count, the bars the next moment must clear (the
policy's own: ``choose`` agrees at the bar), and the games watched."""

from __future__ import annotations

import pytest

from schemas.json_form import to_json
from streams.games import budget_outlook, moment_rates, tweet_budget
from streams.games.tweet_budget import ScheduleIndex

SLATE = "2018-09-09"  # Sunday: 06:00 EDT = 10:00 UTC
AT = tweet_budget.epoch("2018-09-09T22:00:00Z")
LEVEL = moment_rates.grid_index(tweet_budget.RESERVE_LEVEL)


def schedule(league: str, *game_ids: str) -> ScheduleIndex:
    return ScheduleIndex(
        [{"league": league, "game_id": g, "scheduled_start": "2018-09-09T17:00:00Z"} for g in game_ids]
    )


def sunday(league: str = "NFL", tweets: int = 5, limit: int = 17) -> tweet_budget.BudgetState:
    """Four games of the slate seen (a close one late, a toss-up early in the 4th, a leaning one in Q2, a final),
    ``tweets`` tweets from 18:10 UTC one a minute."""
    state = tweet_budget.new_state(league, SLATE, limit)
    positions = {"late": [13, 0, False], "q4": [9, 0, False], "q2": [4, 1, False], "done": [14, 2, True]}
    for game_id, position in positions.items():
        state = tweet_budget.with_game_position(state, game_id, position)
    for i in range(tweets):
        state = tweet_budget.spend(state, "late", str(i), f"2018-09-09T18:{10 + i}:00Z")
    return state


def test_used_left_reserve_and_the_rolling_count_of_a_sunday_afternoon():
    state = sunday()
    out = budget_outlook.outlook(state, "NFL", schedule("NFL", "late", "q4", "q2", "done", "night"), AT)
    table = moment_rates.load("NFL")["decisive_table"]
    # decisive moments ahead: the three unfinished games' cells and the night game's pre-game row, nothing of the final
    ahead = (
        table[13][0][LEVEL]
        + table[9][0][LEVEL]
        + table[4][1][LEVEL]
        + moment_rates.load("NFL")["decisive_pregame"][LEVEL]
    )
    assert out["decisive_ahead"] == pytest.approx(ahead, abs=1e-3)
    assert out["left"] == 12  # 17 - 5: the window allows as many before the slate closes
    assert out["reserve"] == tweet_budget.reserve_for(ahead) == tweet_budget.poisson_quantile(0.95, ahead) + 1
    assert out["spare"] == 12 - out["reserve"]
    assert (out["rolling_24h"], out["room_now"]) == (5, 12)
    assert out["window_frees_at"] == "2018-09-10T18:10:00Z"  # the first tweet leaves X's window 24 hours later
    assert out["as_of"] == "2018-09-09T22:00:00Z" and out["held_back"] == 0


def test_the_rolling_count_holds_the_last_24_hours_only():
    state = tweet_budget.new_state("NFL", SLATE, 17)
    for at in ("2018-09-08T20:00:00Z", "2018-09-09T01:00:00Z", "2018-09-09T21:30:00Z"):  # the first is 26 h old
        state = {**state, "recent": [*state["recent"], at]}
    out = budget_outlook.outlook(state, "NFL", None, AT)
    assert (out["rolling_24h"], out["room_now"]) == (2, 15)
    assert out["window_frees_at"] == "2018-09-10T01:00:00Z"
    # yesterday's 01:00 tweet is still in the window when the slate closes (06:00 EDT = 10:00 UTC): it holds a slot
    assert out["left"] == 16


def test_the_reserve_never_exceeds_what_is_left_and_then_nothing_is_spare():
    state = sunday(tweets=15)
    out = budget_outlook.outlook(state, "NFL", schedule("NFL", "night", "late2"), AT)
    assert out["left"] == 2 and out["reserve"] == 2 and out["spare"] == 0
    assert out["surplus_bar"] is None  # no spare tweet: no other moment is tweeted
    assert out["decisive_bar"] > 0.5  # 2 left and 2 games to start: only a near-certain decider


def test_a_spent_slate_has_no_bar():
    out = budget_outlook.outlook(sunday(tweets=17), "NFL", None, AT)
    assert (out["left"], out["reserve"], out["room_now"]) == (0, 0, 0)
    assert out["decisive_bar"] is None and out["surplus_bar"] is None


def sig(decisive: float, value: float) -> dict:
    return {"decisive": decisive, "value": value, "style": "score", "overtime": False, "clutch": False}


@pytest.mark.parametrize(
    ("league", "tweets", "games"),
    [
        ("NFL", 5, ("late", "q4", "q2", "done", "night")),
        ("NFL", 12, ()),
        ("NFL", 15, ("night", "late2")),
        ("NBA", 3, ("late", "q4", "q2", "done")),
    ],
    ids=["nfl-afternoon", "nfl-few-left", "nfl-two-left-two-to-start", "nba-busy-night"],
)
def test_the_bars_are_where_choose_changes_its_mind(league, tweets, games):
    state, index = sunday(league, tweets), schedule(league, *games)
    out = budget_outlook.outlook(state, league, index, AT)
    left = tweet_budget.tweets_left(state)
    bar = out["decisive_bar"]
    # decisive tier alone (a moment worth nothing else): tweeted at the bar, not just below it
    assert tweet_budget.choose(state, sig(bar + 1e-3, 0.0), league, index, left)
    assert not tweet_budget.choose(state, sig(bar - 1e-3, 0.0), league, index, left)
    if out["surplus_bar"] is not None:  # surplus tier alone (a moment that decides nothing)
        other = out["surplus_bar"]
        assert tweet_budget.choose(state, sig(0.0, other + 1e-3), league, index, left)
        assert not tweet_budget.choose(state, sig(0.0, other - 1e-3), league, index, left)


def test_a_quiet_basketball_night_holds_tweets_back_and_its_bar_says_so():
    state = tweet_budget.new_state("NBA", SLATE, 17)
    state = tweet_budget.with_game_position(state, "only", [9, 0, False])
    index = schedule("NBA", "only")
    out = budget_outlook.outlook(state, "NBA", index, AT)
    assert out["held_back"] == round(17 * (tweet_budget.OVERTIME_HOLD + tweet_budget.LAST_FIVE_HOLD)) == 7
    bar = out["decisive_bar"]
    assert tweet_budget.choose(state, sig(bar + 1e-3, 0.0), "NBA", index, 17)
    assert not tweet_budget.choose(state, sig(bar - 1e-3, 0.0), "NBA", index, 17)


def test_watching_lists_the_games_with_the_most_decisive_moments_ahead():
    out = budget_outlook.outlook(sunday(), "NFL", schedule("NFL", "late", "q4", "q2", "done", "night"), AT)
    table = moment_rates.load("NFL")
    watched = {w["game_id"]: w for w in out["watching"]}
    assert "done" not in watched and len(out["watching"]) == 4  # the final holds nothing more
    assert [w["decisive_ahead"] for w in out["watching"]] == sorted(watched[g]["decisive_ahead"] for g in watched)[::-1]
    assert (watched["late"]["stage"], watched["late"]["closeness"]) == ("Q4 under 2:00", "toss-up")
    assert watched["late"]["decisive_ahead"] == round(table["decisive_table"][13][0][LEVEL], 3)
    assert (watched["night"]["stage"], watched["night"]["closeness"]) == ("not started", None)
    assert watched["q2"]["stage"] == "Q2" and watched["q2"]["closeness"] == "leaning"
    # every game to come is listed here: their figures add up to the policy's count
    assert sum(w["decisive_ahead"] for w in out["watching"]) == pytest.approx(out["decisive_ahead"], abs=2e-3)


@pytest.mark.parametrize(
    ("league", "phase", "words"),
    [
        ("NFL", None, "not started"),
        ("NFL", 0, "Q1"),
        ("NFL", 8, "Q3"),
        ("NFL", 9, "Q4"),
        ("NFL", 10, "Q4 under 10:00"),
        ("NFL", 14, "Q4 under 1:00"),
        ("NFL", 15, "OT"),
        ("NBA", 11, "Q4 under 4:00"),  # 5 minutes of a 15-minute quarter: 4 of a 12-minute one
        ("WNBA", 12, "Q4 under 2:00"),  # 3 of 15: 2 of 10
    ],
)
def test_a_phase_in_words(league, phase, words):
    assert budget_outlook.stage(league, phase) == words


def test_the_outlook_of_a_published_record_is_the_state_s_as_of_its_last_play():
    state = sunday()
    record = tweet_budget.to_record(state, "2018-09-09T22:00:00Z")
    index = schedule("NFL", "late", "q4", "q2", "done", "night")
    expected = budget_outlook.outlook(state, "NFL", index, AT)
    assert budget_outlook.of_record(record, "NFL", index) == expected
    assert budget_outlook.of_record(to_json("TweetBudget", record), "NFL", index) == expected  # the API's form
    v1 = {k: v for k, v in to_json("TweetBudget", record).items() if k != "recent_tweets"}  # TweetBudget.v1
    old = budget_outlook.of_record(v1, "NFL", index)
    assert (old["rolling_24h"], old["left"], old["reserve"]) == (0, 12, expected["reserve"])


def test_a_record_no_play_changed_yet_is_seen_from_the_start_of_its_slate():
    record = tweet_budget.to_record(tweet_budget.new_state("NFL", SLATE, 17))
    out = budget_outlook.of_record(record, "NFL", schedule("NFL", "a", "b"))
    assert out["as_of"] == "2018-09-09T10:00:00Z" and out["rolling_24h"] == 0 and out["left"] == 17
    assert [w["stage"] for w in out["watching"]] == ["not started", "not started"]
