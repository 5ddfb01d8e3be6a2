"""``wirereport load import``, ``backtest scaling``, ``report scaling`` and ``bench scaling`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys


def wirereport(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "connectors.cli.main", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_import_backtest_report(tmp_path):
    load = tmp_path / "bank.jsonl"
    done = wirereport("load", "import", "--bank-calls", "--out", str(load))
    assert done.returncode == 0, done.stderr
    lines = load.read_text().splitlines()
    assert len(lines) == 28730
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(lines[:4000]) + "\n")

    out = tmp_path / "scaling.jsonl"
    done = wirereport(
        "backtest",
        "scaling",
        "--input",
        str(small),
        "--out",
        str(out),
        "--capacity-per-agent",
        "0.05",
        "--summary",
        str(tmp_path / "summary.json"),
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 4000
    assert set(rows[0]) == {"league", "observed_at", "agents", "forecast", "action"}
    assert {r["action"] for r in rows} == {None, "scale_up", "scale_down"}
    for policy in ("predictive", "reactive", "seasonal-naive"):
        assert policy in done.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["samples"] == 4000 and set(summary["targets"]) >= {"slack < seasonal-naive"}

    again = wirereport(
        "backtest",
        "scaling",
        "--input",
        str(small),
        "--out",
        str(tmp_path / "again.jsonl"),
        "--capacity-per-agent",
        "0.05",
    )
    assert again.returncode == 0
    assert (tmp_path / "again.jsonl").read_text() == out.read_text()  # deterministic

    report = wirereport(
        "report", "scaling", "--input", str(small), "--out", str(tmp_path / "plots"), "--capacity-per-agent", "0.05"
    )
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "plots" / "capacity_detail.png").stat().st_size > 10_000
    assert (tmp_path / "plots" / "policy_comparison.png").exists()


def test_bad_input_is_one_line_and_non_zero(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"league": "NBA", "observed_at": "2026-01-01T00:00:00Z", "workload": 1}\n{"league": 1}\n')
    done = wirereport("backtest", "scaling", "--input", str(bad), "--out", str(tmp_path / "o.jsonl"))
    assert done.returncode == 3
    assert "line 2: missing field(s): observed_at, workload" in done.stderr and "Traceback" not in done.stderr
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 1  # the valid line was still decided
    done = wirereport("backtest", "scaling", "--input", str(tmp_path / "nope.jsonl"), "--out", "-")
    assert done.returncode == 2 and done.stderr.startswith("wirereport: error:")
    done = wirereport("backtest", "scaling", "--input", str(bad), "--out", "-", "--target-utilization", "2")
    assert done.returncode == 2 and "target utilization" in done.stderr


def test_bench_prints_rates():
    done = wirereport("bench", "scaling", "--repeat", "1")
    assert done.returncode == 0, done.stderr
    assert "samples/s" in done.stdout and "bare reactive loop" in done.stdout
