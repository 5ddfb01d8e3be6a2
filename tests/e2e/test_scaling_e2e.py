"""End to end: two metrics agents replay a real trace; the worker forecasts and decides; the scaler runs workers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psutil
import pytest

from connectors.kafka.admin import create_topics
from connectors.kafka.broker import EmbeddedBroker, free_port
from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.sources.importers.load import read_named_trace
from connectors.testing import WirereportProcess, wait_until


@pytest.fixture
def own_broker():
    with EmbeddedBroker(free_port()) as broker:
        create_topics(broker.bootstrap)
        yield broker.bootstrap


def _workers(scaler: WirereportProcess) -> int:
    children = psutil.Process(scaler.process.pid).children(recursive=True)
    return sum(1 for c in children if "agent-worker" in " ".join(c.cmdline()) and c.status() != psutil.STATUS_ZOMBIE)


def _hello(server: str, at: datetime) -> dict:
    """A metrics sample of ``server`` with no workload (it was idle), reporting every 5 minutes."""
    return {
        "server_id": server,
        "league": "NBA",
        "observed_at": at,
        "cpu_percent": 5.0,
        "memory_percent": 20.0,
        "disk_percent": 30.0,
        "workload": 0.0,
        "interval_seconds": 300.0,
    }


def test_agents_forecasts_commands_and_local_workers(own_broker, tmp_path):
    trace = tmp_path / "load.jsonl"
    samples = list(read_named_trace("bank_calls"))[:100]  # 10 hours of a weekday, 5-minute steps
    with open(trace, "w") as fh:
        for sample in samples:
            fh.write(json.dumps(sample) + "\n")
    env = {
        "WIREREPORT_APP_ID": "e2e-scaling",
        "WIREREPORT_DATA_DIR": str(tmp_path / "worker"),
        "WIREREPORT_SCALING_CAPACITY_PER_AGENT": "0.5",
        "WIREREPORT_SCALING_PROFILES": json.dumps({"NBA": {"base_agents": 1, "max_agents": 4}}),
        # the test machine's own CPU must not trigger the resource rules
        "WIREREPORT_SCALING_MAX_CPU_PERCENT": "101",
        "WIREREPORT_SCALING_EMERGENCY_CPU_PERCENT": "101",
        "WIREREPORT_SCALING_MAX_MEMORY_PERCENT": "101",
        "WIREREPORT_SCALING_EMERGENCY_MEMORY_PERCENT": "101",
        "WIREREPORT_SCALING_UP_COOLDOWN_SECONDS": "0",
    }
    replay = ["--league", "NBA", "--replay", str(trace), "--speed", "3000"]
    with (
        WirereportProcess(["worker"], bootstrap=own_broker, env=env) as worker,
        WirereportProcess(["scaler"], bootstrap=own_broker, env={"WIREREPORT_DATA_DIR": str(tmp_path / "s")}) as scaler,
    ):
        worker.wait_for_output("worker ready", timeout=60)
        scaler.wait_for_output("scaler ready", timeout=60)
        # both league servers have reported before the replay, as running servers have: the worker waits for
        # each of them in every interval, whichever agent process happens to start first
        first = datetime.fromisoformat(samples[0]["observed_at"].replace("Z", "+00:00"))
        with EdgeProducer(own_broker) as hello:
            for server in ("nba-1", "nba-2"):
                hello.send("system-metrics", _hello(server, first - timedelta(minutes=5)))
        with (
            WirereportProcess(["agent", "--server-id", "nba-1", *replay], bootstrap=own_broker) as a1,
            WirereportProcess(["agent", "--server-id", "nba-2", *replay], bootstrap=own_broker) as a2,
        ):
            a1.wait_for_output("all 100 sample(s) sent", timeout=60)
            a2.wait_for_output("all 100 sample(s) sent", timeout=60)

        def commands():
            got = [r for _, r in consume_records(own_broker, "scaling-commands", timeout=1)]
            return got if got and any(c["action"] == "scale_up" for c in got) else None

        got = wait_until(commands, 30)
        wait_until(lambda: _workers(scaler) == got[-1]["agents_after"], 20)
        assert "scaled NBA" in scaler.output

        # breaking news without a multiplier: the worker takes the NBA profile's breaking-news multiplier (3)
        producer = EdgeProducer(own_broker)
        start = datetime.now(UTC) + timedelta(days=365)  # known to the state, not yet in effect
        news = {"event_id": "trade-1", "league": "NBA", "kind": "breaking_news", "multiplier": None}
        producer.send(
            "league-events",
            {**news, "starts_at": start, "duration_seconds": 3600, "description": ""},
            schema="LeagueEvent",
        )
        producer.flush()

        def news_known():
            recs = [r for _, r in consume_records(own_broker, "scaling-state", timeout=1)]
            return next((e for r in reversed(recs) for e in r["events"] if e["event_id"] == "trade-1"), None)

        assert wait_until(news_known, 30)["multiplier"] == 3.0

        # an event or override that cannot be applied is a dead letter, not a crash loop of the scaling agent
        bad_news = {**news, "event_id": "inf", "multiplier": float("inf")}
        producer.send(
            "league-events",
            {**bad_news, "starts_at": start, "duration_seconds": 60, "description": ""},
            schema="LeagueEvent",
        )
        crossed = {"override_id": "x", "league": "NBA", "min_agents": 9, "max_agents": 2, "reason": "typo"}
        producer.send(
            "scaling-overrides", {**crossed, "expires_at": start, "created_at": start, "predictive_enabled": True}
        )
        producer.flush()

        def letters():
            got = [r["reason"] for _, r in consume_records(own_broker, "dead-letters", timeout=1)]
            return got if len(got) >= 2 else None

        reasons = sorted(wait_until(letters, 30))
        assert reasons == [
            "invalid LeagueEvent: multiplier inf is not a positive number up to 100",
            "invalid ScalingOverride: min_agents 9 is above max_agents 2",
        ]
        forecasts = [r for _, r in consume_records(own_broker, "load-forecasts", timeout=1)]
        states = [r for _, r in consume_records(own_broker, "scaling-state", timeout=1)]

        # a worker restart keeps the league's state (table changelog) and its forecaster (snapshot)
        worker.stop()
        assert (tmp_path / "worker" / "scaling-forecasters.pickle").exists()
        with open(trace, "w") as fh:
            for sample in list(read_named_trace("bank_calls"))[100:110]:
                fh.write(json.dumps(sample) + "\n")
        with WirereportProcess(["worker"], bootstrap=own_broker, env=env) as again:
            again.wait_for_output("worker ready", timeout=60)
            with WirereportProcess(["agent", "--server-id", "nba-1", *replay], bootstrap=own_broker) as a3:
                a3.wait_for_output("all 10 sample(s) sent", timeout=60)

            def after_restart():
                recs = [r for _, r in consume_records(own_broker, "load-forecasts", timeout=1)]
                return recs[len(forecasts) :] or None

            later = wait_until(after_restart, 30)
        final = [r for _, r in consume_records(own_broker, "scaling-state", timeout=1)][-1]
        assert later[0]["samples"] > forecasts[-1]["samples"]  # the forecaster went on, not from scratch
        earlier_ids = [h["command_id"] for h in states[-1]["history"]]
        final_ids = [h["command_id"] for h in final["history"]]
        kept = final_ids.index(earlier_ids[-1]) + 1  # the history before the restart was restored, in order
        assert final_ids[:kept] == earlier_ids[-kept:]
    assert forecasts and forecasts[-1]["league"] == "NBA" and forecasts[-1]["forecast"] > 0
    assert forecasts[-1]["samples"] >= 80  # one league sample per trace step (two servers summed)
    assert states[-1]["agents"] == got[-1]["agents_after"]
    # both servers' samples count in each interval, whichever came first: the league's workload is twice the
    # trace's (only a server's first samples can miss intervals closed before the worker knew of it)
    trace_load = {s["observed_at"]: s["workload"] for s in read_named_trace("bank_calls")}
    at = [(r["workload"], r["computed_at"].isoformat().replace("+00:00", "Z")) for r in forecasts]
    summed = [(league_load, trace_load[when]) for league_load, when in at if when in trace_load]
    doubled = sum(1 for league_load, one in summed if league_load == pytest.approx(2 * one))
    assert doubled >= 0.9 * len(summed) and states[-1]["late_samples"] < 10, (doubled, len(summed))
    # after the restart the scaler's workers were running: the agent counted them, the state carries the count
    assert final["active_agents"] >= 1
    assert all(1 <= c["agents_after"] <= 4 for c in got)
    assert len({c["command_id"] for c in got}) == len(got)
