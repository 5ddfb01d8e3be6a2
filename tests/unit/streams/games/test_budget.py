"""The budget: slates (06:00 to 06:00 New York), the rolling 24-hour window, look-ahead, and property tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.games import moment_rates, tweet_budget
from streams.games.play_decisions import decide


def test_local_day_is_new_york():
    assert tweet_budget.local_day("2018-09-10T03:30:00Z") == "2018-09-09"  # 11:30 PM EDT
    assert tweet_budget.local_day("2018-09-10T04:30:00Z") == "2018-09-10"
    assert tweet_budget.local_day(datetime(2018, 12, 10, 4, 59, tzinfo=UTC)) == "2018-12-09"  # EST


def test_a_slate_runs_from_six_to_six_new_york_time():
    assert tweet_budget.slate_of("2018-09-10T03:30:00Z") == "2018-09-09"  # 11:30 PM EDT
    assert tweet_budget.slate_of("2018-09-10T09:59:00Z") == "2018-09-09"  # 05:59 AM EDT: still Sunday night's
    assert tweet_budget.slate_of("2018-09-10T10:00:00Z") == "2018-09-10"  # 06:00 AM EDT
    assert tweet_budget.slate_of(datetime(2018, 12, 10, 10, 59, tzinfo=UTC)) == "2018-12-09"  # 05:59 EST
    assert tweet_budget.slate_of(datetime(2018, 12, 10, 11, 0, tzinfo=UTC)) == "2018-12-10"


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
    st.sampled_from(["America/New_York", "America/Los_Angeles", "Asia/Kolkata", "Asia/Kathmandu", "UTC"]),
)
def test_a_record_time_falls_in_the_slate_of_its_local_wall_clock(moment, tz):
    # the worker's path for record times (looked up by quarter hour) against the definition, in zones whose
    # offsets are whole, half and three-quarter hours
    at = moment.replace(tzinfo=UTC)
    local = at.astimezone(tweet_budget.zone(tz))
    assert tweet_budget.slate_of(at, tz) == (local - timedelta(hours=6)).date().isoformat()


def test_a_slate_closes_at_six_the_next_morning_even_across_a_clock_change():
    assert tweet_budget.slate_end("2018-09-09") == datetime(2018, 9, 10, 10, tzinfo=UTC).timestamp()
    # 2018-11-04: clocks go back at 02:00 EDT, the slate lasts 25 hours
    assert tweet_budget.slate_end("2018-11-03") == datetime(2018, 11, 4, 11, tzinfo=UTC).timestamp()


def test_the_schedule_groups_a_night_s_games_by_slate():
    games = [
        {"league": "NBA", "game_id": "early", "scheduled_start": "2019-01-05T00:00:00Z"},  # 19:00 ET on the 4th
        {"league": "NBA", "game_id": "late", "scheduled_start": "2019-01-05T03:30:00Z"},  # 22:30 ET on the 4th
        {"league": "NBA", "game_id": "next", "scheduled_start": "2019-01-05T17:00:00Z"},  # 12:00 ET on the 5th
    ]
    index = tweet_budget.ScheduleIndex(games)
    assert index.games_on("NBA", "2019-01-04") == ("early", "late")
    assert index.games_on("NBA", "2019-01-05") == ("next",)


def test_a_new_slate_refills_the_budget_and_keeps_live_games_and_the_window():
    state = tweet_budget.new_state("NFL", "2018-09-09", 17)
    state = tweet_budget.with_game_position(state, "late", [10, 0, False])
    state = tweet_budget.with_game_position(state, "done", [14, 2, True])
    state = tweet_budget.spend(state, "late", "1", "2018-09-10T03:00:00Z")
    nxt = tweet_budget.for_slate(state, "NFL", "2018-09-10", 17)
    assert nxt["used"] == 0 and nxt["tweeted"] == [] and list(nxt["games"]) == ["late"]
    assert nxt["recent"] == ["2018-09-10T03:00:00Z"]
    assert tweet_budget.for_slate(nxt, "NFL", "2018-09-09", 17) is nxt  # a late straggler does not go back


def test_the_window_caps_a_slate_after_a_busy_late_night():
    state = tweet_budget.new_state("NBA", "2019-01-04", 3)
    for minute in (0, 30, 59):  # 3 tweets from 01:00 to 01:59 ET on the 5th, on the 4th's slate
        state = tweet_budget.spend(state, "g", str(minute), datetime(2019, 1, 5, 6, minute, tzinfo=UTC))
    nxt = tweet_budget.for_slate(state, "NBA", "2019-01-05", 3)
    evening = datetime(2019, 1, 5, 23, 0, tzinfo=UTC).timestamp()  # 18:00 ET on the 5th
    assert tweet_budget.room_now(nxt, evening) == 0  # 3 in the 24 hours before: X would answer 429
    assert tweet_budget.room_now(nxt, datetime(2019, 1, 6, 6, 30, tzinfo=UTC).timestamp()) == 2  # 2 aged out
    assert tweet_budget.tweets_left(nxt) == 3  # all three free their slots before the slate closes
    spent = tweet_budget.spend(nxt, "h", "1", datetime(2019, 1, 6, 6, 45, tzinfo=UTC))  # 01:45 ET on the 6th
    assert spent["recent"] == ["2019-01-05T06:59:00Z", "2019-01-06T06:45:00Z"]  # older than 24 hours: dropped


def test_expectation_counts_games_not_started_yet():
    table = moment_rates.load("NFL")
    schedule = tweet_budget.ScheduleIndex(
        [
            {
                "league": "NFL",
                "game_id": "a",
                "home_team": "X",
                "away_team": "Y",
                "scheduled_start": "2018-09-09T17:00:00Z",
            },
            {
                "league": "NFL",
                "game_id": "b",
                "home_team": "Z",
                "away_team": "W",
                "scheduled_start": "2018-09-10T00:20:00Z",
            },
        ]
    )
    state = tweet_budget.with_game_position(tweet_budget.new_state("NFL", "2018-09-09", 17), "a", [14, 2, False])
    with_night_game = tweet_budget.expected_better_moments(state, "NFL", 0.6, schedule, table)
    without = tweet_budget.expected_better_moments(state, "NFL", 0.6, None, table)
    assert with_night_game > without >= 0
    assert with_night_game - without == pytest.approx(moment_rates.expected_moments(table, None, 0, 0.6))
    curve = tweet_budget.expected_curve(state, "NFL", schedule, table)
    assert curve[0] >= curve[-1] >= 0
    # early in a 13-game day the bar is high; when the day's games are over it falls to nothing
    day = [
        {
            "league": "NFL",
            "game_id": f"x{i}",
            "home_team": "A",
            "away_team": "B",
            "scheduled_start": "2018-09-09T17:00Z",
        }
        for i in range(13)
    ]
    full_day = tweet_budget.expected_curve(state, "NFL", tweet_budget.ScheduleIndex(day), table)
    assert tweet_budget.spend_threshold(full_day, 6, 1.0) > tweet_budget.spend_threshold(curve, 6, 1.0) > 0
    assert tweet_budget.spend_threshold([0.0] * len(curve), 1, 1.0) == 0.0
    assert tweet_budget.should_spend({**state, "used": 16}, 0.99, curve)
    assert not tweet_budget.should_spend({**state, "used": 17}, 1.0, [0.0] * len(curve))


def _play(game: int, seq: int, start: datetime, home: int, away: int, period: int, clock: int) -> dict:
    return {
        "league": "NFL", "game_id": f"g{game}", "play_id": str(seq), "sequence": seq,
        "occurred_at": (start + timedelta(seconds=30 * seq)).isoformat().replace("+00:00", "Z"),
        "period": period, "clock_seconds": clock, "home_team": f"H{game}", "away_team": f"A{game}",
        "home_score": home, "away_score": away, "description": "x", "event_type": "score",
        "possession": None, "down": None, "yards_to_go": None, "yardline_100": None,
    }  # fmt: skip


@st.composite
def play_streams(draw):
    """Plays of several games over two days, late and close (many candidates), with redeliveries."""
    plays = []
    for game in range(draw(st.integers(1, 4))):
        start = datetime(2018, 9, 9, 17, tzinfo=UTC) + timedelta(hours=draw(st.sampled_from([0, 3, 12, 30])))
        home = away = 0
        for seq in range(1, draw(st.integers(2, 25))):
            if draw(st.booleans()):
                home += draw(st.sampled_from([3, 7]))
            else:
                away += draw(st.sampled_from([3, 7]))
            plays.append(_play(game, seq, start, home, away, 4, max(0, 900 - 40 * seq)))
    plays.sort(key=lambda p: p["occurred_at"])
    redelivered = draw(st.lists(st.sampled_from(plays), max_size=10)) if plays else []
    return plays + redelivered


@settings(max_examples=60, deadline=None)
@given(play_streams(), st.sampled_from([0, 1, 2, 3, 5, 6, 17]))
def test_budget_never_exceeded_and_no_play_tweeted_twice(plays, limit):
    games: dict = {}
    budget = None
    per_day: dict = {}
    tweeted = set()
    for play in plays:
        decision, games[play["game_id"]], budget = decide(play, games.get(play["game_id"]), budget, [], limit=limit)
        if decision["tweet"]:
            key = (play["game_id"], play["play_id"])
            assert key not in tweeted
            tweeted.add(key)
            day = tweet_budget.local_day(play["occurred_at"])
            per_day[day] = per_day.get(day, 0) + 1
            assert decision["command"]["command_id"] and decision["text"]
    assert all(n <= limit for n in per_day.values())


def test_budget_state_round_trips_through_its_avro_record():
    from schemas.codec import get_codec

    state = tweet_budget.with_game_position(tweet_budget.new_state("NFL", "2018-09-09", 17), "g1", [3, 0, False])
    state = tweet_budget.spend(state, "g1", "117")
    codec = get_codec()
    _name, record = codec.decode(codec.encode("TweetBudget", tweet_budget.to_record(state, "2018-09-09T17:30:00Z")))
    assert tweet_budget.from_record(record) == state
    assert record["ratings"] and record["ratings_season"] == state["ratings"]["season"]


def test_no_tweet_below_the_spend_floor_even_with_nothing_left_to_come():
    state = tweet_budget.new_state("NFL", "2018-10-15", 6)
    empty = [0.0] * len(moment_rates.VALUE_GRID)  # no game left today: the bar is 0
    assert not tweet_budget.should_spend(state, tweet_budget.SPEND_FLOOR - 0.01, empty)
    assert tweet_budget.should_spend(state, tweet_budget.SPEND_FLOOR, empty)
    assert not tweet_budget.should_spend({**state, "used": 6}, 1.0, empty)


def test_poisson_quantile_matches_scipy():
    from scipy.stats import poisson

    for mean in (0.0, 0.3, 1.0, 2.5, 8.0, 30.0):
        for q in (0.5, 0.95, 0.99):
            expected = int(poisson.ppf(q, mean)) if mean else 0
            assert tweet_budget.poisson_quantile(q, mean) == expected


def test_the_stopping_bar_falls_with_more_tweets_and_fewer_moments_to_come():
    table = moment_rates.load("NFL")
    one_game = list(table["decisive_pregame"])
    sunday = [13 * x for x in one_game]
    bars = [tweet_budget.stopping_threshold(sunday, k) for k in (1, 2, 3, 6, 17)]
    assert bars == sorted(bars, reverse=True) and 0.5 < bars[0] < 1.0 and bars[-1] < 0.05
    assert tweet_budget.stopping_threshold(one_game, 1) < tweet_budget.stopping_threshold(sunday, 1)
    assert tweet_budget.stopping_threshold([0.0] * len(one_game), 1) == 0.0
    assert tweet_budget.stopping_threshold(one_game, 10**6) == 0.0  # far more tweets than moments: no bar
    # finer steps barely move the bar
    assert tweet_budget.stopping_threshold(sunday, 6) == pytest.approx(
        tweet_budget.stopping_threshold(sunday, 6, steps=128), abs=0.01
    )


def _sig(value: float, decisive: float = 0.0, style: str = "big_swing") -> dict:
    return {"value": value, "decisive": decisive, "style": style}


def test_surplus_tweets_go_to_events_once_the_reserve_is_kept():
    ended = tweet_budget.with_game_position(tweet_budget.new_state("NFL", "2018-10-15", 17), "g", [14, 2, True])
    # every game of the day is over: all but the reserve of one tweet may go to good moments
    assert tweet_budget.choose(ended, _sig(0.15, style="final"), "NFL", None)
    assert not tweet_budget.choose(ended, _sig(0.15, style="update"), "NFL", None)  # a plain play, never
    assert not tweet_budget.choose(ended, _sig(0.08, style="go_ahead"), "NFL", None)  # below SURPLUS_MIN_VALUE
    assert not tweet_budget.choose({**ended, "used": 16}, _sig(0.2, style="final"), "NFL", None)  # the reserve
    # a 13-game Sunday at kick-off: the reserve for its decisive moments leaves no surplus at 6 a day
    day = tweet_budget.ScheduleIndex(
        [
            {"league": "NFL", "game_id": f"x{i}", "home_team": "A", "away_team": "B",
             "scheduled_start": "2018-09-09T17:00Z"}
            for i in range(13)
        ]
    )  # fmt: skip
    morning = tweet_budget.new_state("NFL", "2018-09-09", 6)
    assert not tweet_budget.choose(morning, _sig(0.3, style="go_ahead"), "NFL", day)
    # a near-certain decisive moment passes the decisive bar even then
    assert tweet_budget.choose(morning, _sig(0.99, decisive=0.99, style="walk_off"), "NFL", day)


def test_expected_count_is_one_level_of_the_curve():
    table = moment_rates.load("NFL")
    state = tweet_budget.with_game_position(tweet_budget.new_state("NFL", "2018-09-09", 17), "a", [10, 0, False])
    schedule = tweet_budget.ScheduleIndex(
        [{"league": "NFL", "game_id": "b", "home_team": "Z", "away_team": "W", "scheduled_start": "2018-09-09T20:00Z"}]
    )
    curve = tweet_budget.expected_curve(state, "NFL", schedule, table, "decisive_")
    for level in (0, 4, 10):
        count = tweet_budget.expected_count(state, "NFL", schedule, table, "decisive_", level)
        assert count == pytest.approx(curve[level])
