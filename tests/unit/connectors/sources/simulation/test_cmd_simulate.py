"""``wirereport simulate``: the files it writes are the real contract, the same for the same seed."""

from __future__ import annotations

import argparse
import json

import pytest

from connectors.cli import cmd_simulate
from connectors.exceptions import InputError
from schemas.codec import get_codec
from schemas.json_form import from_json


def _run(argv):
    parser = argparse.ArgumentParser()
    cmd_simulate.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_simulate_writes_plays_and_schedule(tmp_path):
    plays, schedule = tmp_path / "plays.jsonl", tmp_path / "schedule.jsonl"
    argv = ["simulate", "wnba", "--games", "2", "--nights", "2", "--seed", "4", "--out", str(plays)]
    assert _run([*argv, "--schedule-out", str(schedule)]) == 0
    games = _lines(schedule)
    assert len(games) == 4 and {g["league"] for g in games} == {"WNBA"}
    records = _lines(plays)
    assert {p["game_id"] for p in records} == {g["game_id"] for g in games}
    codec = get_codec()
    for record in records:
        codec.encode("Play", from_json("Play", record), validate_first=True)
    first = plays.read_bytes()
    assert _run(argv) == 0
    assert plays.read_bytes() == first


def test_simulate_refuses_impossible_nights(tmp_path):
    with pytest.raises(InputError, match="one game"):
        _run(["simulate", "nba", "--kind", "one-game", "--games", "3", "--out", str(tmp_path / "p.jsonl")])
    with pytest.raises(InputError, match="nights"):
        _run(["simulate", "nba", "--nights", "0", "--out", str(tmp_path / "p.jsonl")])


def test_check_prints_the_calibration_table(capsys):
    assert _run(["simulate", "nba", "--check", "20"]) == 0
    table = capsys.readouterr().out
    assert "| points per team-game | 114.7 |" in table
    assert "lead changes per game" in table
