"""Every long-running process of a real run, started as an operator would with ``--metrics-port``: each answers
/metrics, /health and /ready (ready within a bound), every metric the Grafana dashboards query is exported by
one of them after a replay of real plays, and one play's trace runs from ``wirereport produce`` through the
worker to the publisher's post under one trace id (``WIREREPORT_TRACING=console``: spans printed as JSON)."""

from __future__ import annotations

import gzip
import itertools
import json
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from connectors.kafka.admin import create_topics
from connectors.kafka.broker import free_port
from connectors.kafka.edge import EdgeProducer
from connectors.observability.dashboards import family_of, queried_metrics
from connectors.testing import SAMPLE_DATA, WirereportProcess, wait_until
from connectors.testing.http_server import JsonHandler, serving
from schemas.json_form import from_json
from streams.games.backtest import run as backtest
from tests.integration.api.test_server import api_env

READY_WITHIN = 90  # seconds from start until every process answers /ready 200 (the worker is the slowest)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(found: dict, family: str, **labels: str) -> list:
    return [
        s
        for s in (found[family].samples if family in found else [])
        if all(s.labels.get(k) == v for k, v in labels.items()) and not s.name.endswith("_created")
    ]


class Webhook(JsonHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.answer(200, {"ok": True})


def console_spans(output: str) -> list[dict]:
    """The spans a ConsoleSpanExporter printed (each a JSON object from a ``{`` line to a ``}`` line)."""
    spans, lines = [], None
    for line in output.splitlines():
        if line == "{":
            lines = [line]
        elif lines is not None:
            lines.append(line)
            if line == "}":
                span = json.loads("\n".join(lines))
                if "context" in span:
                    spans.append(span)
                lines = None
    return spans


def first_tweeted_prefix() -> tuple[list[str], list[dict], str]:
    """The sample Sunday's plays up to the first one the backtest tweets (as JSON lines), the schedule, and that
    play's id."""
    with gzip.open(SAMPLE_DATA / "nfl_2018_week1_sunday.jsonl.gz", "rt") as fh:
        lines = [line for line in fh if line.strip()]
    schedule = [
        from_json("ScheduledGame", json.loads(line))
        for line in (SAMPLE_DATA / "nfl_2018_week1_schedule.jsonl").read_text().splitlines()
        if line.strip()
    ]
    plays = [from_json("Play", json.loads(line)) for line in lines]
    first = next(i for i, decision in enumerate(backtest(plays, schedule, budget=17)) if decision["tweet"])
    return lines[: first + 1], schedule, plays[first]["play_id"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A broker, the worker, publisher, scaler, alert router, API, metrics agent, supervisor, deploy agent and an
    NFL feed poller, each with its own metrics port; the plays up to the first tweet replayed through them."""
    tmp = tmp_path_factory.mktemp("observability")
    prefix, schedule, tweeted_play = first_tweeted_prefix()
    ports = {}

    def port(name: str) -> str:
        ports[name] = free_port()
        return str(ports[name])

    env = {
        "WIREREPORT_APP_ID": f"e2e-obs-{uuid.uuid4().hex[:6]}",
        "WIREREPORT_DATA_DIR": str(tmp / "data"),
        "WIREREPORT_LOG_LEVEL": "WARNING",
    }
    traced = {**env, "WIREREPORT_TRACING": "console"}
    processes: dict[str, WirereportProcess] = {}
    broker = WirereportProcess(
        ["broker", "--port", str(free_port()), "--metrics-port", port("broker")], env=env
    ).start()
    processes["broker"] = broker
    try:
        broker.wait_for_output("embedded broker ready", timeout=60)
        bootstrap = broker.output.split("bootstrap ", 1)[1].split()[0]
        create_topics(bootstrap)
        with serving(Webhook) as webhook:
            counter = tmp / "workload.counter"
            counter.write_text("0")
            repo = tmp / "repo"
            subprocess.run(["git", "init", "-q", str(repo)], check=True)
            git_commit = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q"]
            subprocess.run([*git_commit, "--allow-empty", "-m", "v1"], check=True)
            feed_schedule = tmp / "feed.jsonl"
            later = (datetime.now(UTC) + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
            game = {"league": "NFL", "game_id": "obs-1", "home_team": "KC", "away_team": "BUF"}
            feed_schedule.write_text(json.dumps({**game, "scheduled_start": later}) + "\n")
            commands = {
                "worker": (["worker", "--metrics-port", port("worker")], traced),
                "publisher": (["publisher", "--metrics-port", port("publisher")], traced),
                "scaler": (["scaler", "--league", "WNBA", "--metrics-port", port("scaler")], env),
                "alert-router": (
                    ["alert-router", "--metrics-port", port("alert-router")],
                    {**env, "WIREREPORT_SLACK_WEBHOOK_URL": f"{webhook}/hook"},
                ),
                "agent": (
                    shlex.split(
                        f"agent --server-id nfl-obs-1 --league NFL --workload-file {counter} --interval 0.5"
                        f" --metrics-port {port('agent')}"
                    ),
                    env,
                ),
                "supervisor": (
                    shlex.split(
                        f"supervisor --server-id nfl-obs-1 --metrics-port {port('supervisor')}"
                        f" -- {sys.executable} -c 'import time; time.sleep(3600)'"
                    ),
                    env,
                ),
                "deploy-agent": (
                    shlex.split(
                        f"deploy-agent --server-id nfl-obs-1 --repo {repo} --metrics-port {port('deploy-agent')}"
                    ),
                    env,
                ),
                "feed-nfl": (
                    shlex.split(
                        f"feed nfl --url-template http://127.0.0.1:9/{{game_id}}.json --schedule {feed_schedule}"
                        f" --metrics-port {port('feed-nfl')}"
                    ),
                    env,
                ),
                "api": (["api", "--port", port("api")], {**env, **api_env()}),
            }
            for name, (args, process_env) in commands.items():
                processes[name] = WirereportProcess(args, bootstrap=bootstrap, env=process_env).start()
            bases = {name: f"http://127.0.0.1:{p}" for name, p in ports.items()}

            def not_ready() -> list[str]:
                return [name for name, base in bases.items() if get(f"{base}/ready")[0] != 200]

            wait_until(
                lambda: not not_ready(),
                READY_WITHIN,
                interval=0.5,
                message=lambda: "not ready: " + ", ".join(f"{n}:\n{processes[n].output[-1500:]}" for n in not_ready()),
            )

            with EdgeProducer(bootstrap) as producer:  # the schedule first, as in production
                for game in schedule:
                    producer.send("league-events", game, schema="ScheduledGame")

            def schedule_read() -> bool:
                found = families(get(f"{bases['worker']}/metrics")[1])
                read = samples(found, "wirereport_records_processed", topic="league-events")
                return sum(s.value for s in read) >= len(schedule)

            wait_until(schedule_read, 30, interval=0.5, message="the worker never read the schedule")
            plays_file = tmp / "plays.jsonl"
            plays_file.write_text("".join(prefix))
            produced = subprocess.run(
                [sys.executable, "-m", "connectors.cli.main", "produce", "plays", str(plays_file)],
                env={**processes["worker"].env, "WIREREPORT_LOG_LEVEL": "WARNING"},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert produced.returncode == 0, produced.stderr[-2000:]

            def posted() -> bool:
                found = families(get(f"{bases['publisher']}/metrics")[1])
                return any(s.value >= 1 for s in samples(found, "wirereport_tweets", outcome="posted"))

            wait_until(posted, 60, interval=0.5, message=lambda: processes["publisher"].output[-2000:])
            yield {
                "bases": bases,
                "processes": processes,
                "producer_output": produced.stderr,
                "tweeted_play": tweeted_play,
            }
    finally:
        for process in reversed(processes.values()):
            process.stop()


def test_every_process_answers_health_ready_and_metrics(run):
    for name, base in run["bases"].items():
        status, body = get(f"{base}/health")
        assert (status, json.loads(body)["status"]) == (200, "ok"), name
        assert get(f"{base}/ready")[0] == 200, name
        status, text = get(f"{base}/metrics")
        found = families(text)
        assert status == 200 and found, name
        if name != "api":  # the API reports its readiness as wirereport_read_model_ready
            assert [s.value for s in samples(found, "wirereport_ready")] == [1.0], name


def test_every_metric_the_dashboards_query_is_exported_after_the_replay(run):
    scraped = {name: families(get(f"{base}/metrics")[1]) for name, base in run["bases"].items()}
    exported = set(itertools.chain.from_iterable(scraped.values()))
    queried = queried_metrics()
    assert len(queried) >= 20
    missing = {name: sorted(where) for name, where in queried.items() if family_of(name) not in exported}
    assert missing == {}

    worker, publisher = scraped["worker"], scraped["publisher"]
    assert sum(s.value for s in samples(worker, "wirereport_records_processed", topic="plays")) >= 1
    decided = samples(worker, "wirereport_tweets", outcome="decided")
    assert decided and all(s.value >= 1 for s in decided)
    account = decided[0].labels["account"]
    budget = samples(worker, "wirereport_tweet_budget_remaining", account=account)
    assert len(budget) == 1 and 0 <= budget[0].value < 17
    assert samples(publisher, "wirereport_tweets", account=account, outcome="posted")[0].value == 1

    def limit_left() -> float | None:  # the publisher reads its outbox for it every few seconds
        left = samples(families(get(f"{run['bases']['publisher']}/metrics")[1]), "wirereport_tweet_limit_remaining")
        return {s.labels["account"]: s.value for s in left}.get(account)

    wait_until(lambda: limit_left() == 16, 20, interval=0.5, message=lambda: f"limit left {limit_left()}, not 16")
    assert samples(publisher, "wirereport_records_processed", topic="tweet-commands")[0].value >= 1
    assert [s.value for s in samples(publisher, "wirereport_consumer_lag", topic="tweet-commands")] != []
    assert samples(scraped["alert-router"], "wirereport_circuit_breaker_state", breaker="slack-webhook")[0].value == 0
    assert samples(scraped["agent"], "wirereport_agent_samples", outcome="taken")[0].value >= 1
    assert samples(scraped["api"], "wirereport_api_requests")  # our own scrapes and probes


def test_one_plays_trace_runs_from_the_producer_through_the_worker_to_the_post(run):
    publisher = run["processes"]["publisher"]
    worker = run["processes"]["worker"]

    def post_span() -> dict | None:
        posts = [s for s in console_spans(publisher.output) if s["name"] == "post tweet"]
        return posts[0] if posts else None

    post = wait_until(post_span, 30, interval=0.5, message=lambda: publisher.output[-3000:])
    trace_id = post["context"]["trace_id"]

    def worker_span() -> dict | None:
        spans = [s for s in console_spans(worker.output) if s["context"]["trace_id"] == trace_id]
        return spans[0] if spans else None

    step = wait_until(worker_span, 30, interval=0.5, message=lambda: worker.output[-3000:])
    produced = [s for s in console_spans(run["producer_output"]) if s["context"]["trace_id"] == trace_id]
    assert len(produced) == 1
    (produce,) = produced
    assert (produce["name"], produce["kind"]) == ("produce plays", "SpanKind.PRODUCER")
    assert produce["resource"]["attributes"]["service.name"] == "producer"
    assert step["resource"]["attributes"]["service.name"] == "worker"
    assert post["resource"]["attributes"]["service.name"] == "publisher"
    # one chain: the worker's step is a child of the produce, the post a child of the step
    assert step["parent_id"] == produce["context"]["span_id"]
    assert post["parent_id"] == step["context"]["span_id"]
    play_id = str(run["tweeted_play"])
    assert produce["attributes"]["wirereport.play_id"] == step["attributes"]["wirereport.play_id"] == play_id
    assert post["attributes"]["wirereport.play_id"] == play_id
