"""User errors at start are ONE line on stderr: no librdkafka flood when Kafka is down, no silent agent."""

from __future__ import annotations

import os
import subprocess
import sys

from connectors.kafka.broker import free_port


def run_cli(args: list[str], tmp_path, bootstrap: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "WIREREPORT_KAFKA_BOOTSTRAP": bootstrap,
        "WIREREPORT_DATA_DIR": str(tmp_path),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "connectors.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_scaler_with_kafka_unreachable_prints_one_error_line(tmp_path):
    unreachable = f"127.0.0.1:{free_port()}"  # nothing listens there: every connection is refused
    done = run_cli(["scaler"], tmp_path, unreachable)
    lines = error_lines(done.stderr)
    assert done.returncode != 0
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("wirereport: error:") and unreachable in lines[0]


def test_agent_without_workload_and_no_default_counter_file_fails_at_once(tmp_path):
    unreachable = f"127.0.0.1:{free_port()}"  # the check comes before any broker is contacted
    done = run_cli(["agent", "--server-id", "nba-1", "--league", "NBA"], tmp_path, unreachable)
    lines = error_lines(done.stderr)
    assert done.returncode == 2
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("wirereport: error:")
    assert str(tmp_path / "workload-nba.counter") in lines[0]
    assert all(option in lines[0] for option in ("--workload-file", "--workload-cmd", "--replay"))
    assert not done.stdout  # not even "agent ready"


def test_agent_help_names_the_default_counter_file(tmp_path):
    done = run_cli(["agent", "--help"], tmp_path, "127.0.0.1:1")
    assert done.returncode == 0
    assert "workload-<league>.counter" in " ".join(done.stdout.split())
