"""The broker lost mid-day (the embedded broker keeps everything in memory): half of the real NFL Sunday, then
the broker restarts empty on the same port, ``topics create``, the worker, the publisher (dry run) and the API
restart, the rest of the day is replayed. Every process says it noticed (those living through the outage before
the restart); no tweet is posted twice; the
account's budget counts the tweets posted before the loss; the worker tweets again."""

from __future__ import annotations

import json
from collections import Counter

import httpx

from connectors.kafka.admin import create_topics
from connectors.kafka.broker import EmbeddedBroker, free_port
from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import WirereportProcess, wait_until
from tests.e2e.test_plays_pipeline import load
from tests.integration.api.test_server import api_env

LIMIT = 6
CUT = 1500  # plays before the loss: the budget-6 day tweets twice before it and three times after


def records(bootstrap: str, name: str) -> list[dict]:
    return [r for _, r in consume_records(bootstrap, name, timeout=1.0)]


def posted(tmp_path) -> list[dict]:
    path = tmp_path / "tweets-dryrun.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def send(bootstrap: str, topic_name: str, items: list[dict]) -> None:
    with EdgeProducer(bootstrap) as producer:
        for item in items:
            producer.send(topic_name, item)


def start(args: list[str], bootstrap: str, env: dict, ready: str) -> WirereportProcess:
    process = WirereportProcess(args, bootstrap=bootstrap, env=env).start()
    process.wait_for_output(ready, timeout=90)
    return process


def final_budget(bootstrap: str, last_play_at) -> dict | None:
    """The NFL account's budget record once the worker decided the day's last play."""
    budgets = [b for b in records(bootstrap, "tweet-budgets") if b["account"] == "NFL"]
    return budgets[-1] if budgets and budgets[-1]["updated_at"] == last_play_at else None


def start_api(bootstrap: str, env: dict) -> tuple[WirereportProcess, httpx.Client]:
    port = free_port()
    api = start(["api", "--port", str(port)], bootstrap, env, "api ready")
    return api, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)


def test_a_broker_lost_mid_day_is_noticed_and_survived(tmp_path):
    plays = load("nfl_2018_week1_sunday.jsonl.gz", "Play")
    schedule = load("nfl_2018_week1_schedule.jsonl", "ScheduledGame")
    env = api_env(
        WIREREPORT_APP_ID="e2e-brokerloss", WIREREPORT_DATA_DIR=str(tmp_path), WIREREPORT_TWEETS_PER_DAY=str(LIMIT)
    )
    broker = EmbeddedBroker(free_port()).start()
    processes: list[WirereportProcess] = []
    try:
        create_topics(broker.bootstrap)
        bootstrap = broker.bootstrap
        send(bootstrap, "league-events", schedule)
        worker = start(["worker"], bootstrap, env, "worker ready")
        publisher = start(["publisher"], bootstrap, env, "tweet publisher ready")
        api, client = start_api(bootstrap, env)
        processes += [worker, publisher, api]
        send(bootstrap, "plays", plays[:CUT])
        wait_until(lambda: len(posted(tmp_path)) >= 2, timeout=90, message=lambda: worker.output[-2000:])
        before = {c["command_id"] for c in records(bootstrap, "tweet-commands")}
        wait_until(lambda: len(records(bootstrap, "tweet-receipts")) >= len(before), timeout=30)
        assert len(before) == 2

        broker.stop()  # every topic, offset and changelog is gone
        broker = EmbeddedBroker(broker.port).start()
        create_topics(bootstrap)
        not_ready = wait_until(
            lambda: (r := client.get("/ready")).status_code == 503 and "broker lost data" in r.text and r,
            timeout=30,
            message=lambda: f"{client.get('/ready').text}\n{api.output[-2000:]}",
        )
        assert "reading them again" in not_ready.json()["reason"]
        # the worker and the publisher that lived through the outage notice it too, each with an alert
        worker.wait_for_output("the broker lost data", timeout=40)
        publisher.wait_for_output("the broker lost data", timeout=40)
        alerts = wait_until(
            lambda: (
                {a["summary"].split(":")[0] for a in records(bootstrap, "alerts")} >= {"worker", "tweet-publisher"}
                and records(bootstrap, "alerts")
            ),
            timeout=20,
            message=lambda: f"{records(bootstrap, 'alerts')}\n{worker.output[-3000:]}\n{publisher.output[-2000:]}",
        )
        assert {a["alertname"] for a in alerts} == {"BrokerDataLost"}
        for process in processes:
            process.stop()

        publisher = start(["publisher"], bootstrap, env, "tweet publisher ready")
        processes.append(publisher)
        assert "the broker lost data" in publisher.output and "sending 2 tweet receipt(s) again" in publisher.output
        wait_until(lambda: len(records(bootstrap, "tweet-receipts")) >= 2, timeout=30)
        worker = start(["worker"], bootstrap, env, "worker ready")
        processes.append(worker)
        assert "held state on partition(s)" in worker.output and "broker lost data" in worker.output
        api, client = start_api(bootstrap, env)
        processes.append(api)

        send(bootstrap, "plays", plays[CUT:])
        budget = wait_until(
            lambda: final_budget(bootstrap, plays[-1]["occurred_at"]),
            timeout=120,
            message=lambda: worker.output[-3000:],
        )  # the worker decided the whole rest of the day
        after = {c["command_id"] for c in records(bootstrap, "tweet-commands")}
        assert after, "the worker tweets again after the loss"
        assert budget["used"] == len(before | after), "the budget counts the tweets posted before the loss"
        assert len(budget["recent_tweets"]) == budget["used"] and len(before | after) <= LIMIT
        wait_until(
            lambda: {p["command_id"] for p in posted(tmp_path)} >= before | after,
            timeout=60,
            message=lambda: publisher.output[-3000:],
        )
        wait_until(lambda: client.get("/ready").status_code == 200, timeout=30)
    finally:
        for process in processes:
            process.stop()
        broker.stop()

    counts = Counter(p["command_id"] for p in posted(tmp_path))
    assert max(counts.values()) == 1, "a tweet was posted twice"
    assert not before & after
