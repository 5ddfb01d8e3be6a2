"""Games that end without a ``game_end`` record: from the record, or after a staleness timeout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.games.game_state import apply_play, final_in_record
from streams.games.play_decisions import decide

T0 = datetime(2018, 9, 9, 17, tzinfo=UTC)


def _play(game: str, seq: int, minutes: float, period: int, clock: int, home: int, away: int, **extra) -> dict:
    return {
        "league": "NFL", "game_id": game, "play_id": str(seq), "sequence": seq,
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "period": period, "clock_seconds": clock, "home_team": f"H{game}", "away_team": f"A{game}",
        "home_score": home, "away_score": away, "description": "pass incomplete", "event_type": "play",
        "possession": None, "down": None, "yards_to_go": None, "yardline_100": None, **extra,
    }  # fmt: skip


def _ends(play: dict, prev=(0, 0), late=True, try_to_come=False, overtime_seconds=0) -> bool:
    return final_in_record(play, *prev, late=late, try_to_come=try_to_come, overtime_seconds=overtime_seconds)


def test_nfl_ends_when_the_4th_quarter_runs_out_with_the_scores_apart():
    over = _play("g", 1, 0, 4, 0, 24, 23)
    assert _ends(over, (24, 23))
    assert not _ends(over, (24, 23), late=False)  # a 0:00 right after a long clock: not trusted
    assert not _ends({**over, "description": "PENALTY on GB, defensive holding"}, (24, 23))  # an untimed down
    assert not _ends(over, (18, 23), try_to_come=True)  # the touchdown's try is still to come
    assert not _ends({**over, "home_score": 23}, (23, 23))  # tied: overtime follows
    assert _ends({**over, "event_type": "period_end"}, (24, 23), late=False)
    assert not _ends(_play("g", 1, 0, 3, 0, 24, 23), (24, 23))


def test_nfl_overtime_ends_on_a_touchdown_or_tied_after_ten_minutes():
    assert _ends(_play("g", 1, 0, 5, 312, 27, 21), (21, 21), late=True)  # a touchdown in overtime
    tied = _play("g", 1, 0, 5, 0, 21, 21)
    assert _ends(tied, (21, 21), overtime_seconds=600)  # regular season: it ends tied
    assert not _ends(tied, (21, 21), overtime_seconds=900)  # 15 minutes: maybe a playoff game, it goes on


def test_nba_ends_at_the_end_of_the_4th_with_the_scores_apart_not_on_a_buzzer_foul():
    end = {**_play("g", 1, 0, 4, 0, 101, 99), "league": "NBA", "event_type": "period_end"}
    assert _ends(end, (101, 99))
    assert not _ends({**end, "away_score": 101}, (101, 101))
    assert not _ends({**end, "event_type": "foul"}, (101, 99))  # free throws may follow a 0:00 foul


def test_the_games_table_turns_final_from_the_record():
    state = apply_play(None, _play("g", 1, 0, 4, 40, 24, 23))
    state = apply_play(state, _play("g", 2, 1, 4, 0, 24, 23))
    assert state["status"] == "final"


def _run(plays: list[dict]):
    games, budget, out = {}, None, []
    for play in plays:
        decision, games[play["game_id"]], budget = decide(play, games.get(play["game_id"]), budget, [])
        out.append((decision, budget))
    return games, budget, out


def test_an_inferred_end_releases_the_reserve_and_rates_once_a_late_game_end_changes_nothing():
    plays = [_play("a", 1, 0, 4, 40, 24, 23), _play("a", 2, 1, 4, 0, 24, 23)]
    games, budget, _ = _run(plays)
    assert budget["games"]["a"][2] is True and games["a"]["rated"]
    ratings = budget["ratings"]["ratings"]
    assert ratings["Ha"] > ratings["Aa"]  # the winner gained
    end = {**_play("a", 3, 2, 4, 0, 24, 23), "event_type": "game_end"}
    _, after, _ = _run([*plays, end])
    assert after["ratings"] == budget["ratings"]


def test_a_stale_game_ends_from_the_other_games_plays_and_comes_back_if_it_plays_again():
    late = _play("a", 1, 0, 4, 30, 24, 23)  # 0:30 left: its last play in the feed
    plays = [late, _play("b", 1, 5, 2, 600, 7, 0), _play("b", 2, 11, 2, 500, 7, 0)]
    _, budget, out = _run(plays)
    assert out[1][1]["games"]["a"][2] is False  # 5 minutes: still live
    assert budget["games"]["a"][2] is True  # 11 minutes without a play in its last two minutes: over
    rated = budget["ratings"]
    assert rated["ratings"]["Ha"] > rated["ratings"]["Aa"]
    resumed = _play("a", 2, 12, 4, 20, 24, 23)
    _, budget, _ = _run([*plays, resumed, {**_play("a", 3, 13, 4, 0, 24, 23), "event_type": "game_end"}])
    assert budget["games"]["a"][2] is True
    assert budget["ratings"]["ratings"]["Ha"] == rated["ratings"]["Ha"]  # rated once


def test_a_game_stale_before_its_4th_quarter_releases_the_reserve_without_a_rating():
    plays = [_play("a", 1, 0, 2, 300, 7, 3), _play("b", 1, 31, 1, 800, 0, 0)]
    _, budget, _ = _run(plays)
    assert budget["games"]["a"][2] is True
    assert "Ha" not in budget["ratings"]["ratings"] or budget["ratings"]["ratings"]["Ha"] == 1500.0
    _, budget, _ = _run([*plays, _play("a", 2, 32, 2, 200, 7, 3)])
    assert budget["games"]["a"][2] is False  # it plays again: live
