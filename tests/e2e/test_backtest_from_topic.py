"""``backtest plays|scaling --from-topic`` over what a running pipeline really took in equals the file backtests.

The NFL Sunday and its schedule go into the broker with ``wirereport produce``, a ``wirereport worker`` decides
every play; then the topic backtest must print the file backtest's lines byte for byte (one league: one partition,
the produce order is the file order), and ``--compare --budget 6`` must list exactly what separates the file
backtests at budget 17 (the live budget) and 6. The scaling backtest over ``system-metrics`` must equal the file
backtest of the load samples the metrics were made from, with one server per league or the load split over two.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from itertools import islice
from pathlib import Path

import pytest

from connectors.kafka.broker import free_port
from connectors.kafka.edge import consume_raw, consume_records
from connectors.sources.importers.load import read_named_trace
from connectors.testing import SAMPLE_DATA, WirereportProcess, running_broker, wait_until
from streams.games.compare import differences

APP_ID = "e2e-backtest-from-topic"
PLAYS = SAMPLE_DATA / "nfl_2018_week1_sunday.jsonl.gz"
SCHEDULE = SAMPLE_DATA / "nfl_2018_week1_schedule.jsonl"
MOVED_WITHIN = 10  # the --moved-within default


def wirereport(*args: str, bootstrap: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREREPORT_")}
    if bootstrap:
        env["WIREREPORT_KAFKA_BOOTSTRAP"] = bootstrap
    return subprocess.run(
        [sys.executable, "-m", "connectors.cli.main", *args], capture_output=True, text=True, timeout=300, env=env
    )


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def produce(bootstrap: str, topic: str, path: Path, schema: str | None = None) -> None:
    done = wirereport("produce", topic, str(path), *(["--schema", schema] if schema else []), bootstrap=bootstrap)
    assert done.returncode == 0 and " 0 invalid line(s)" in done.stderr, done.stderr


def file_backtest(tmp_path: Path, budget: int) -> tuple[bytes, list[dict]]:
    """(the decisions' bytes, the tweet commands) of the file backtest at ``budget``."""
    out, commands = tmp_path / f"file{budget}.jsonl", tmp_path / f"commands{budget}.jsonl"
    done = wirereport(
        "backtest", "plays", "--input", str(PLAYS), "--schedule", str(SCHEDULE), "--budget", str(budget),
        "--out", str(out), "--commands", str(commands),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out.read_bytes(), read_jsonl(commands)


def last_plays_decided(bootstrap: str) -> dict[str, str]:
    return {r["game_id"]: r["last_play_id"] for _, r in consume_records(bootstrap, "game-state", timeout=1.0)}


def stored_schedule(bootstrap: str) -> int:
    return sum(1 for _ in consume_raw(bootstrap, f"{APP_ID}-schedule-changelog", timeout=1.0))


def test_plays_from_the_topic_equal_the_file_backtest_and_compare_lists_the_budget_difference(tmp_path):
    plays, schedule = read_jsonl(PLAYS), read_jsonl(SCHEDULE)
    live_bytes, live_commands = file_backtest(tmp_path, 17)
    _, candidate_commands = file_backtest(tmp_path, 6)
    expected = differences(plays, candidate_commands, live_commands, MOVED_WITHIN)
    # the budgets decide differently on this day, so the comparison has something to find
    assert {d["kind"] for d in expected} >= {"lost"}
    last_plays = {p["game_id"]: p["play_id"] for p in plays}

    env = {"WIREREPORT_APP_ID": APP_ID, "WIREREPORT_DATA_DIR": str(tmp_path)}
    with running_broker() as bootstrap:
        with WirereportProcess(["worker"], bootstrap=bootstrap, env=env) as worker:
            worker.wait_for_output("worker ready", timeout=90)
            produce(bootstrap, "league-events", SCHEDULE, schema="ScheduledGame")
            # the schedule is known before the first kickoff, as in production
            wait_until(lambda: stored_schedule(bootstrap) >= len(schedule), timeout=60, message="schedule not stored")
            produce(bootstrap, "plays", PLAYS)
            wait_until(
                lambda: last_plays_decided(bootstrap) == last_plays,
                timeout=120,
                message=lambda: f"not every play decided; worker said:\n{worker.output[-2000:]}",
            )
        live = {r["command_id"]: r for _, r in consume_records(bootstrap, "tweet-commands", timeout=1.0)}
        assert set(live) == {c["command_id"] for c in live_commands}  # live decided as the file backtest

        topic_out = tmp_path / "topic.jsonl"
        done = wirereport("backtest", "plays", "--from-topic", "plays", "--out", str(topic_out), bootstrap=bootstrap)
        assert done.returncode == 0, done.stderr
        assert topic_out.read_bytes() == live_bytes

        diff_out = tmp_path / "differences.jsonl"
        done = wirereport(
            "backtest", "plays", "--from-topic", "plays", "--compare", "--budget", "6", "--out", str(diff_out),
            bootstrap=bootstrap,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    found = read_jsonl(diff_out)
    assert found == expected
    counts = {kind: sum(1 for d in found if d["kind"] == kind) for kind in ("gained", "lost", "moved")}
    assert (
        f"live {len(live_commands)} tweets, candidate {len(candidate_commands)}; "
        f"{counts['gained']} gained, {counts['lost']} lost, {counts['moved']} moved"
    ) in done.stdout
    rows = [line.split() for line in done.stdout.splitlines()[2:]]  # after the counts and the header
    assert [(r[0], r[2], r[3], r[4]) for r in rows] == [
        (d["kind"], d["game_id"], d["play_id"] or "-", d["live_play_id"] or "-") for d in found
    ]
    # every tweet only one side has is listed once, as gained or lost or as one end of a move
    live_ids = {(c["game_id"], c["play_id"]) for c in live_commands}
    candidate_ids = {(c["game_id"], c["play_id"]) for c in candidate_commands}
    assert sorted((d["game_id"], d["play_id"]) for d in found if d["kind"] != "lost") == sorted(
        candidate_ids - live_ids
    )
    assert sorted((d["game_id"], d["live_play_id"]) for d in found if d["kind"] != "gained") == sorted(
        live_ids - candidate_ids
    )


def metrics_line(sample: dict, server: str, workload: float) -> dict:
    return {
        "server_id": server,
        "league": sample["league"],
        "observed_at": sample["observed_at"],
        "cpu_percent": 40.0,
        "memory_percent": 50.0,
        "disk_percent": 60.0,
        "workload": workload,
        "interval_seconds": 300.0,
    }


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.mark.parametrize("servers", [1, 2])
def test_scaling_from_system_metrics_equals_the_file_backtest_of_its_samples(tmp_path, servers):
    samples = list(islice(read_named_trace("bank_calls"), 3000))  # as `wirereport load import` writes them
    load_file = write_jsonl(tmp_path / "load.jsonl", samples)
    # each server carries an equal share (halving is exact in binary: the shares sum to the sample's workload)
    metrics = [metrics_line(s, f"nba-{n}", s["workload"] / servers) for s in samples for n in range(servers)]
    metrics_file = write_jsonl(tmp_path / "metrics.jsonl", metrics)
    policy = ["--capacity-per-agent", "0.05"]
    done = wirereport("backtest", "scaling", "--input", str(load_file), "--out", str(tmp_path / "file.jsonl"), *policy)
    assert done.returncode == 0, done.stderr

    with running_broker() as bootstrap:
        produce(bootstrap, "system-metrics", metrics_file)
        topic_out = tmp_path / "topic.jsonl"
        done = wirereport(
            "backtest", "scaling", "--from-topic", "system-metrics", "--out", str(topic_out), *policy,
            bootstrap=bootstrap,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"{len(samples)} samples in " in done.stdout
        before_all = wirereport(
            "backtest", "scaling", "--from-topic", "system-metrics", "--until", "2000-01-01T00:00:00Z",
            "--out", str(tmp_path / "none.jsonl"), bootstrap=bootstrap,
        )  # fmt: skip
    assert topic_out.read_bytes() == (tmp_path / "file.jsonl").read_bytes()
    # the window is on the record timestamp (when it was produced), not on observed_at
    assert before_all.returncode == 2
    assert before_all.stderr.strip() == "wirereport: error: system-metrics: no valid load samples"


def test_a_missing_topic_or_an_unreachable_broker_is_one_line_and_non_zero(tmp_path):
    with running_broker() as bootstrap:
        done = wirereport("backtest", "plays", "--from-topic", "no-such-topic", "--out", "-", bootstrap=bootstrap)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"wirereport: error: topic 'no-such-topic' does not exist on {bootstrap} (run: wirereport topics create)"
    ]
    nobody = f"127.0.0.1:{free_port()}"
    done = wirereport("backtest", "scaling", "--from-topic", "system-metrics", "--out", "-", bootstrap=nobody)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wirereport: error: cannot reach Kafka at {nobody}")
