"""Property: random plays, valid and hostile, through the games step: every valid one takes effect, every hostile
one is dead-lettered with its reason, redeliveries change nothing, and the step never stops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.testing import Harness, Message, message
from streams.games.game_state import LEAGUES, OVERTIME_SECONDS, REGULATION_SECONDS, validate_play
from streams.games.steps import GamesStep

TZ = "America/New_York"
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INSTANTS = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31), timezones=st.just(UTC))
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)

# (field, hostile value, what the reason names)
BROKEN_BOUNDS = [
    ("period", 0, "period 0"),
    ("period", 99, "period 99"),
    ("period", 2**31 - 1, "period 2147483647"),
    ("clock_seconds", 99999, "clock_seconds 99999"),
    ("clock_seconds", -1, "clock_seconds -1"),
    ("home_score", 2147483647, "home_score 2147483647"),
    ("away_score", -3, "away_score -3"),
    ("sequence", 2**63 - 1, "sequence 9223372036854775807"),
    ("occurred_at", datetime(1, 1, 1, tzinfo=UTC), "occurred_at 0001-01-01"),
    ("occurred_at", datetime(9999, 12, 31, tzinfo=UTC), "occurred_at 9999-12-31"),
    ("game_id", "", "game_id is empty"),
    ("play_id", "", "play_id is empty"),
    ("home_team", "", "home_team is empty"),
    ("event_type", "", "event_type is empty"),
    ("description", "x" * 100_000, "description of 100000 characters"),
    ("play_id", "p" * 10_000, "play_id of 10000 characters"),
    ("down", 0, "down 0"),
    ("yardline_100", 101, "yardline_100 101"),
    ("yards_to_go", 2**31 - 1, "yards_to_go 2147483647"),
]


@st.composite
def game_plays(draw, game_id: str, kickoff: datetime) -> list[dict]:
    """A game's valid plays in order: rising sequences, scores that never go down, clocks within their period,
    times within the game's afternoon (a game's plays share a slate: the account keeps one slate's games)."""
    league = draw(st.sampled_from(LEAGUES))
    home, away = draw(st.lists(st.text("ABCDEFGHIJ", min_size=2, max_size=4), min_size=2, max_size=2, unique=True))
    plays, sequence, scores = [], 0, [0, 0]
    for n in range(draw(st.integers(1, 12))):
        sequence += draw(st.integers(1, 1000))
        scores = [min(300, s + draw(st.sampled_from([0, 0, 0, 1, 2, 3, 6, 7]))) for s in scores]
        period = draw(st.integers(1, 10))
        length = (OVERTIME_SECONDS if period > 4 else REGULATION_SECONDS)[league]
        plays.append(
            {
                "league": league,
                "game_id": game_id,
                "play_id": f"{game_id}-{n}",
                "sequence": sequence,
                "occurred_at": kickoff + timedelta(seconds=draw(st.integers(0, 900))),
                "period": period,
                "clock_seconds": draw(st.integers(0, length)),
                "home_team": home,
                "away_team": away,
                "home_score": scores[0],
                "away_score": scores[1],
                "description": draw(TEXT),
                "event_type": draw(st.sampled_from(["play", "score", "timeout", "period_start", "period_end"])),
                "possession": draw(st.sampled_from([None, home, away])),
                "down": draw(st.none() | st.integers(1, 4)),
                "yards_to_go": draw(st.none() | st.integers(0, 100)),
                "yardline_100": draw(st.none() | st.integers(0, 100)),
            }
        )
    return plays


@st.composite
def day(draw) -> tuple[list[Message], set[int], dict[str, dict]]:
    """Messages of a day (valid plays of a few games interleaved, hostile ones among them); the positions that
    must be dead-lettered with what their reason names; the last valid play of each game."""
    kickoff = draw(INSTANTS).replace(hour=17)  # a slate in every time zone the budget may use
    games = [draw(game_plays(f"g{i}", kickoff)) for i in range(draw(st.integers(1, 3)))]
    pending = [list(plays) for plays in games]
    messages: list[Message] = []
    expected: dict[int, str] = {}
    last: dict[str, dict] = {}
    while any(pending):
        game = draw(st.sampled_from([i for i, plays in enumerate(pending) if plays]))
        play = pending[game].pop(0)
        messages.append(message("plays", play))
        last[play["game_id"]] = play
        for _ in range(draw(st.integers(0, 2))):  # hostile records (or redeliveries) after it
            kind = draw(st.sampled_from(["bound", "junk", "late", "down", "redelivery"]))
            base = draw(st.sampled_from(sorted(last)))
            latest = last[base]
            if kind == "bound":
                field, value, reason = draw(st.sampled_from(BROKEN_BOUNDS))
                expected[len(messages)] = reason
                messages.append(message("plays", {**latest, "play_id": "hostile", field: value}))
            elif kind == "junk":
                expected[len(messages)] = ""
                messages.append(Message("plays", draw(st.binary(max_size=30)) + b"\xff\xff\xff\xff\xff"))
            elif kind == "late":
                expected[len(messages)] = "out of order"
                messages.append(message("plays", {**latest, "play_id": "late", "sequence": 0}))
            elif kind == "down" and latest["home_score"] > 0:
                expected[len(messages)] = "score went down"
                down = {**latest, "play_id": "down", "sequence": latest["sequence"] + 1, "home_score": 0}
                messages.append(message("plays", down))
            elif kind == "redelivery":
                messages.append(message("plays", latest))
    return messages, expected, last


@PROPERTY
@given(day(), st.integers(1, 40))
def test_valid_plays_take_effect_and_hostile_ones_are_dead_lettered(case, batch_size):
    messages, expected, last = case
    h = Harness(lambda: GamesStep(limit=17, tz=TZ), {"plays": validate_play}, batch_size=batch_size)
    h.run(messages)
    letters = {letter["offset"]: letter["reason"] for letter in h.dead_letters}
    assert sorted(letters) == sorted(expected), letters
    for offset, reason in expected.items():
        assert reason in letters[offset] and letters[offset]
    for game_id, play in last.items():
        state = h.tables["games"][game_id]
        assert (state["last_play_id"], state["last_sequence"]) == (play["play_id"], play["sequence"])
        assert (state["home_score"], state["away_score"]) == (play["home_score"], play["away_score"])
