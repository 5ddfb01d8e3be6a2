"""``wirereport backtest health`` as a user runs it, on the shipped recording (real psutil samples)."""

from __future__ import annotations

import json
import subprocess
import sys

from connectors.testing import SAMPLE_DATA

SAMPLE = SAMPLE_DATA / "metrics_recorded.jsonl"


def wirereport(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "connectors.cli.main", *args], capture_output=True, text=True, timeout=60
    )


def test_backtest_of_the_recording_shows_firing_resolved_and_server_down(tmp_path):
    out = tmp_path / "alerts.jsonl"
    result = wirereport("backtest", "health", "--input", str(SAMPLE), "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all(
        set(r) >= {"at", "server_id", "alertname", "severity", "status", "fingerprint", "value"} for r in rows
    )
    seen = {(r["alertname"], r["severity"], r["status"]) for r in rows}
    assert {
        ("HighCpu", "critical", "firing"),
        ("HighCpu", "critical", "resolved"),
        ("HighCpu", "warning", "firing"),
        ("HighCpu", "warning", "resolved"),
        ("ServerDown", "critical", "firing"),
        ("ServerDown", "critical", "resolved"),
    } <= seen
    # every firing is followed by its resolution, never two firings of one fingerprint in a row
    last: dict[str, str] = {}
    for r in rows:
        assert last.get(r["fingerprint"]) != r["status"], r
        last[r["fingerprint"]] = r["status"]
    assert set(last.values()) == {"resolved"}
    # deterministic: the same input gives the same bytes
    again = wirereport("backtest", "health", "--input", str(SAMPLE), "--commands", str(tmp_path / "cmds.jsonl"))
    assert again.stdout == out.read_text()
    commands = [json.loads(line) for line in (tmp_path / "cmds.jsonl").read_text().splitlines()]
    assert [c["action"] for c in commands].count("restart_process") == 1  # the one outage of the recording
    assert {c["action"] for c in commands} == {"restart_process", "shed_load", "request_scale_up"}


def test_bad_lines_are_reported_and_valid_ones_still_processed(tmp_path):
    lines = SAMPLE.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([lines[0], "{not json", json.dumps({"server_id": "x"}), *lines[1:]]) + "\n")
    result = wirereport("backtest", "health", "--input", str(bad), "--out", str(tmp_path / "out.jsonl"))
    assert result.returncode == 3
    assert "wirereport: error: 2 invalid input line(s) skipped (first: line 2: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "out.jsonl").read_text().count("\n") > 0
    missing = wirereport("backtest", "health", "--input", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
