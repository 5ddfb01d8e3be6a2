"""X's rolling limit over slates: no account ever makes more than ``limit`` tweets in any 24 hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.games import backtest, evaluation, tweet_budget

NEW_YORK = ZoneInfo("America/New_York")


def _iso(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")


def nba_game(game_id: str, tip_off: datetime, minutes: int, plays: int, scorers: list[bool]) -> list[dict]:
    """An NBA game of ``plays`` records spread over ``minutes``; in the 4th quarter each record is a score by the
    side ``scorers`` names (True: home), enough to swing the lead: many late go-ahead candidates."""
    records, home, away = [], 0, 0
    for k in range(plays):
        period = 1 + 4 * k // plays
        clock = max(0, 720 - (720 * (4 * k % plays)) // plays)
        if period == 4:
            if scorers[k % len(scorers)]:
                home = max(home, away) + 2
            else:
                away = max(home, away) + 2
        else:
            home, away = home + 2 * (k % 2), away + 2 * (1 - k % 2)
        records.append(
            {
                "league": "NBA", "game_id": game_id, "play_id": str(k), "sequence": k,
                "occurred_at": _iso(tip_off + timedelta(minutes=minutes * k / plays)), "period": period,
                "clock_seconds": clock, "home_team": f"H{game_id}", "away_team": f"A{game_id}",
                "home_score": home, "away_score": away, "description": "x",
                "event_type": "score" if period == 4 else "play",
                "possession": None, "down": None, "yards_to_go": None, "yardline_100": None,
            }
        )  # fmt: skip
    last = records[-1]
    if last["home_score"] == last["away_score"]:
        last["home_score"] += 1
    records.append({**last, "play_id": "end", "sequence": plays, "clock_seconds": 0, "event_type": "period_end"})
    return records


@st.composite
def nights(draw):
    """2-4 consecutive nights of 1-4 NBA games each, tip-offs 12:00-23:30 ET, 2-4 hours long (late games run past
    midnight), with their schedule."""
    plays, schedule = [], []
    first = datetime(2019, 1, 4, tzinfo=NEW_YORK)
    for night in range(draw(st.integers(2, 4))):
        for n in range(draw(st.integers(1, 4))):
            game_id = f"{night}-{n}"
            tip_off = first + timedelta(days=night, minutes=draw(st.integers(12 * 60, 23 * 60 + 30)))
            minutes = draw(st.integers(120, 240))
            scorers = draw(st.lists(st.booleans(), min_size=2, max_size=6))
            plays.extend(nba_game(game_id, tip_off, minutes, draw(st.integers(20, 40)), scorers))
            schedule.append(
                {"league": "NBA", "game_id": game_id, "home_team": f"H{game_id}", "away_team": f"A{game_id}",
                 "scheduled_start": _iso(tip_off)}
            )  # fmt: skip
    plays.sort(key=lambda p: (p["occurred_at"], p["game_id"], p["sequence"]))
    return plays, schedule


@settings(max_examples=40, deadline=None)
@given(nights(), st.sampled_from([1, 2, 3, 5]))
def test_no_account_exceeds_the_limit_in_any_24_hours(slate_nights, limit):
    plays, schedule = slate_nights
    tweeted = [d["tweet"] for d in backtest.run(plays, schedule, limit)]
    assert max(evaluation.most_in_24_hours(plays, tweeted).values(), default=0) <= limit
    assert all(n <= limit for n in evaluation.tweets_per_day(plays, tweeted).values())


def test_the_late_night_tweets_count_against_the_next_slate(monkeypatch):
    """Two nights of one late game each: the first night's tweets after midnight still hold their slots the next
    evening, so the second night's 4th quarter, less than 24 hours later, gets only the slot the window has left
    (alone it would have tweeted as the first night did). The quiet-night hold of basketball is off: the window
    is what is tested."""
    monkeypatch.setattr(tweet_budget, "QUIET_NIGHT_GAMES", 0)
    scorers = [True] * 4 + [False] * 4  # each lead lasts long enough to be confirmed (streams/games/confirmations.py)
    first = nba_game("1", datetime(2019, 1, 4, 22, 30, tzinfo=NEW_YORK), 180, 40, scorers)
    second = nba_game("2", datetime(2019, 1, 5, 20, 0, tzinfo=NEW_YORK), 180, 40, scorers)
    plays = first + second
    tweeted = [d["tweet"] for d in backtest.run(plays, [], 3)]
    at = [p["occurred_at"] for p, t in zip(plays, tweeted, strict=True) if t and p["game_id"] == "1"]
    assert {tweet_budget.slate_of(t) for t in at} == {"2019-01-04"}
    assert len(at) == 2 and min(at) > "2019-01-05T05:00:00Z"  # all after midnight ET, on the 4th's slate
    assert sum(tweeted[len(first) :]) == 1  # the window's last slot
    alone = [d["tweet"] for d in backtest.run(second, [], 3)]
    assert sum(alone) == 2


def test_most_in_24_hours_slides_over_the_tweets():
    at = ["2019-01-04T20:00:00Z", "2019-01-05T05:00:00Z", "2019-01-05T19:00:00Z", "2019-01-05T20:00:00Z"]
    plays = [{"league": "NBA", "occurred_at": t} for t in at] + [{"league": "NFL", "occurred_at": at[0]}]
    assert evaluation.most_in_24_hours(plays, [True] * 5) == {"NBA": 3, "NFL": 1}  # 20:00 leaves at 20:00 next day
