"""The CLI as a user runs it: one-line errors with exit codes, and ``wirereport up`` from start to Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import psutil

from connectors.kafka.broker import free_port
from connectors.testing import WirereportProcess, wait_until


def cli(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "connectors.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_error(result: subprocess.CompletedProcess, code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("wirereport: error:")]
    assert len(lines) == 1 and text in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_unknown_topic_and_unreachable_broker_are_one_line_errors(tmp_path):
    assert_one_line_error(cli("produce", "plays", str(tmp_path / "nope.jsonl")), 2, "no such file")
    (tmp_path / "x.jsonl").write_text("{}\n")
    assert_one_line_error(cli("produce", "playz", str(tmp_path / "x.jsonl")), 1, "unknown topic 'playz'")
    dead = {"WIREREPORT_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    assert_one_line_error(cli("topics", "create", env=dead), 1, "cannot reach Kafka")


def test_produce_reports_bad_lines_sends_good_ones_and_exits_3(broker, tmp_path):
    good = {
        "league": "NBA",
        "game_id": "cli-1",
        "play_id": "1",
        "sequence": 1,
        "occurred_at": "2009-12-01T00:00:00Z",
        "period": 1,
        "clock_seconds": 720,
        "home_team": "LAL",
        "away_team": "BOS",
        "home_score": 2,
        "away_score": 0,
        "description": "layup",
        "event_type": "score",
    }
    lines = [json.dumps(good), "not json", json.dumps({**good, "home_score": -2}), json.dumps({"league": "NBA"})]
    path = tmp_path / "plays.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = cli("produce", "plays", str(path), env={"WIREREPORT_KAFKA_BOOTSTRAP": broker})
    assert result.returncode == 3
    assert f"{path}:2: not valid JSON" in result.stderr
    assert f"{path}:3: invalid play: home_score -2 is not 0-300" in result.stderr
    assert f"{path}:4: missing field(s)" in result.stderr
    consumed = cli("consume", "plays", "--from-beginning", "--timeout", "2", env={"WIREREPORT_KAFKA_BOOTSTRAP": broker})
    assert consumed.returncode == 0
    mine = [json.loads(line) for line in consumed.stdout.splitlines() if '"cli-1"' in line]
    assert len(mine) == 1 and mine[0]["home_score"] == 2


def test_up_shows_live_game_state_and_ctrl_c_leaves_no_process(tmp_path):
    env = {
        "WIREREPORT_BROKER_PORT": str(free_port()),
        "WIREREPORT_API_PORT": str(free_port()),
        "WIREREPORT_DATA_DIR": str(tmp_path),
    }
    up = WirereportProcess(["up", "--speed", "2000"], env=env).start()
    try:
        up.wait_for_output("worker ready", timeout=90)
        up.wait_for_output("[game-state]", timeout=60)
        wait_until(lambda: up.output.count("[game-state]") >= 20, timeout=60, message="game state stopped flowing")
        children = psutil.Process(up.process.pid).children(recursive=True)
        assert len(children) >= 3  # broker, worker, replay (and the API)
    finally:
        up.signal(signal.SIGINT)
        up.process.wait(60)
    assert up.process.returncode == 0, up.output[-2000:]
    assert "[up]" in up.output and "stopped" in up.output
    wait_until(lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children), timeout=10)
