"""Poison records inside the real NFL Sunday (JSON forms), for the harness, the backtest and the e2e tests.

Each poison is a record no agent may take: bounds broken (a play dated year 1; period 99, clock 99999 and a
score of 2147483647; a 5 MB description), or refused by its game (a score going down, a play out of order, a
play after the feed's game_end). None may change a decision about the real plays.
"""

from __future__ import annotations

import gzip
import json
from functools import cache

from connectors.testing import SAMPLE_DATA

PLAYS = SAMPLE_DATA / "nfl_2018_week1_sunday.jsonl.gz"
SCHEDULE = SAMPLE_DATA / "nfl_2018_week1_schedule.jsonl"
FIVE_MB = 5 * 1024 * 1024


@cache
def sunday_lines() -> tuple[dict, ...]:
    with gzip.open(PLAYS, "rt") as fh:
        return tuple(json.loads(line) for line in fh)


def schedule_lines() -> list[dict]:
    return [json.loads(line) for line in SCHEDULE.read_text().splitlines() if line.strip()]


def poisoned_sunday() -> tuple[list[dict], dict[str, str]]:
    """The Sunday's plays with the poison records among them; ``(plays, poison's index -> expected reason)``."""
    plays = list(sunday_lines())
    previous: dict[str, dict] = {}
    target = None
    for index, play in enumerate(plays[1000:], 1000):  # a play whose game is on the board and unchanged by it
        before = previous.get(play["game_id"])
        scores = (play["home_score"], play["away_score"])
        unchanged = before is not None and (before["home_score"], before["away_score"]) == scores
        if unchanged and sum(scores) > 0 and play["event_type"] == "play":
            target = index
            break
        previous[play["game_id"]] = play
    assert target is not None
    x = plays[target]
    before = previous[x["game_id"]]
    poisons = {
        "poison-year-one": ({**x, "occurred_at": "0001-01-01T00:00:00Z"}, "occurred_at 0001-01-01"),
        "poison-bounds": (
            {**x, "period": 99, "clock_seconds": 99999, "home_score": 2147483647, "description": "CCC lead"},
            "home_score 2147483647 is not 0-300; period 99 is not 1-10; clock_seconds 99999",
        ),
        "poison-huge": ({**x, "description": "x" * FIVE_MB}, "bytes"),
        "poison-down": ({**x, "home_score": 0, "away_score": 0}, "score went down"),
        "poison-late": ({**x, "sequence": 1}, "out of order"),
    }
    lines = [({**record, "play_id": play_id}, reason) for play_id, (record, reason) in poisons.items()]
    # the same play id with new content: absurd, so refused (a sane correction would be taken)
    repeated = {**before, "home_score": 2147483647, "clock_seconds": 99999, "description": "with 1666:39 left"}
    lines.append((repeated, "home_score 2147483647 is not 0-300"))
    end = next(i for i, p in enumerate(plays) if p["event_type"] == "game_end" and i + 1 < len(plays))
    assert end > target
    after = {**plays[end], "play_id": "poison-after-final", "sequence": plays[end]["sequence"] + 1}
    after.update(event_type="play", description="a play after the final")
    poisoned = plays[:target] + [record for record, _ in lines] + plays[target : end + 1] + [after] + plays[end + 1 :]
    reasons = {target + i: reason for i, (_, reason) in enumerate(lines)}
    reasons[end + 1 + len(lines)] = "after final"
    return poisoned, reasons
