"""The poison records inside the real NFL Sunday change no decision: in the step (harness) and in the backtest."""

from __future__ import annotations

import json

from connectors.cli.main import main
from connectors.testing import Harness, message
from schemas.json_form import from_json
from streams.games import backtest
from streams.games.game_state import validate_play
from streams.games.steps import GamesStep
from tests.unit.streams.games.poison import PLAYS, SCHEDULE, poisoned_sunday, schedule_lines, sunday_lines

TZ = "America/New_York"


def test_the_step_dead_letters_each_poison_with_its_reason_and_tweets_as_the_clean_backtest():
    plays, reasons = poisoned_sunday()
    schedule = [from_json("ScheduledGame", game) for game in schedule_lines()]
    clean = [from_json("Play", play) for play in sunday_lines()]
    expected = [d["command"] for d in backtest.run(clean, schedule, budget=17, tz=TZ) if d["tweet"]]
    messages = [message("league-events", game, "ScheduledGame") for game in schedule]
    messages += [message("plays", from_json("Play", play)) for play in plays]
    h = Harness(lambda: GamesStep(limit=17, tz=TZ), {"plays": validate_play, "league-events": None}).run(messages)

    assert h.outputs_of("tweet-commands") == expected
    letters = {letter["offset"] - len(schedule): letter["reason"] for letter in h.dead_letters}
    assert sorted(letters) == sorted(reasons)
    for index, reason in reasons.items():
        assert reason in letters[index], (plays[index]["play_id"], letters[index])


def test_the_backtest_reports_each_poison_by_line_and_decides_the_rest_as_without_them(tmp_path, capsys):
    plays, reasons = poisoned_sunday()
    poisoned = tmp_path / "poisoned.jsonl"
    poisoned.write_text("".join(json.dumps(play) + "\n" for play in plays))
    clean_out, poisoned_out = tmp_path / "clean.jsonl", tmp_path / "poisoned_out.jsonl"
    assert main(["backtest", "plays", "--input", str(PLAYS), "--schedule", str(SCHEDULE), "--out", str(clean_out)]) == 0
    capsys.readouterr()
    args = ["backtest", "plays", "--input", str(poisoned), "--schedule", str(SCHEDULE), "--out", str(poisoned_out)]
    assert main(args) == 3

    assert poisoned_out.read_text() == clean_out.read_text()  # one line per valid play, the same decisions
    err = capsys.readouterr().err
    reported = [line for line in err.splitlines() if line.startswith(f"wirereport: invalid input {poisoned}:")]
    assert len(reported) == len(reasons)
    for index, reason in reasons.items():
        line = next(text for text in reported if text.startswith(f"wirereport: invalid input {poisoned}:{index + 1}: "))
        assert reason in line or reason == "bytes"  # the 5 MB play's reason is its description's length
    assert "backtest plays: 2470 plays" in err
