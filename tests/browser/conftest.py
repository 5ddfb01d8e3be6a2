"""A running stack (embedded broker, ``wirereport worker``, ``wirereport api``) replaying the real NFL sample, and a
real Chromium (Debian's package, driven by Playwright) to use the console on it."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from connectors.auth.tokens import hash_key, mint_token
from connectors.kafka.broker import free_port
from connectors.kafka.edge import EdgeProducer
from connectors.testing import SAMPLE_DATA, WirereportProcess, running_broker, tweet_command, wait_until
from schemas.json_form import from_json
from streams.games import tweet_budget

SECRET = "browser-test-secret-" * 3
NFL_KEY = "nfl-console-key-0123456789"
REPLAY_CHUNK = 60  # plays per awaited chunk
REPLAYED_SHARE = 0.4  # of the sample's plays, in time order: every game is under way, none is over
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def token(scopes: str, subject: str = "ops") -> str:
    return mint_token(SECRET, subject, scopes, issuer="wirereport", audience="wirereport-api")


@dataclass
class Stack:
    url: str
    bootstrap: str
    api: httpx.Client
    replayed_games: frozenset[str] = frozenset()
    seeded_tweets: dict[str, str] = field(default_factory=dict)  # publish status -> command_id ("pending": none)

    def games(self) -> list[dict]:
        r = self.api.get("/v1/games", params={"limit": 200}, headers={"Authorization": f"Bearer {token('read')}"})
        r.raise_for_status()
        return r.json()["items"]


def _load(name: str, schema: str) -> list[dict]:
    path = SAMPLE_DATA / name
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        return [from_json(schema, json.loads(line)) for line in fh if line.strip()]


def _operations_records(now: datetime) -> list[tuple[str, str, dict]]:
    """A few records of the other pages' topics, as the health, scaling and deployment agents would write them."""
    return [
        ("server-health", "ServerHealth", {"server_id": "nfl-web-1", "league": "NFL", "status": "degraded",
         "last_seen": now, "interval_seconds": 10.0, "cpu_percent": 91.5, "memory_percent": 62.0,
         "disk_percent": 40.2, "firing": ["HighCpu:warning"]}),
        ("server-health", "ServerHealth", {"server_id": "nfl-web-2", "league": "NFL", "status": "ok",
         "last_seen": now, "interval_seconds": 10.0, "cpu_percent": 35.0, "memory_percent": 48.3,
         "disk_percent": 40.0, "firing": []}),
        ("alerts", "Alert", {"fingerprint": "fp-highcpu-nfl-web-1", "alertname": "HighCpu", "server_id": "nfl-web-1",
         "league": "NFL", "severity": "warning", "status": "firing", "value": 91.5, "threshold": 85.0,
         "summary": "CPU above 85% for 5 minutes", "at": now, "starts_at": now - timedelta(minutes=5)}),
        ("breaker-state", "BreakerState", {"breaker": "x-api", "state": "closed", "changed_at": now,
         "failure_rate": 0.02, "calls": 120}),
        ("load-forecasts", "LoadForecast", {"league": "NFL", "computed_at": now, "workload": 3.4,
         "horizon_seconds": 900.0, "forecast": 4.1, "forecast_upper": 5.0, "model": "ets"}),
        ("scaling-state", "ScalingState", {"league": "NFL", "agents": 4, "active_agents": 4, "updated_at": now}),
        *[
            ("scaling-commands", "ScalingCommand", {"command_id": f"scale-nfl-{i}", "league": "NFL",
             "agents_before": 2 + i, "agents_after": 3 + i, "action": "scale_up",
             "reason": f"forecast {2.5 + i:.1f} over capacity of {2 + i} agents", "forecast": 2.5 + i,
             "decided_at": now - timedelta(minutes=30 - 10 * i)})
            for i in range(2)
        ],
        ("deployment-state", "DeploymentState", {"deployment_id": "dep-console-1", "league": "NFL",
         "version": "v1.4.2", "previous_version": "v1.4.1", "targets": ["nfl-web-1", "nfl-web-2"],
         "phase": "baking", "reason": "canary applied; baking", "requested_at": now - timedelta(minutes=12),
         "updated_at": now}),
        *_tweets_with_receipts(now),
        *_night_budget(now),
        *_reversible_records(now),
        ("dead-letters", "DeadLetter", {"source_topic": "plays", "partition": 0, "offset": 42,
         "key": b"2018090900", "value": b'{"league":"NFL","game_id":"2018090900","sequence":"x"}',
         "reason": "SchemaError: sequence is not an int", "agent": "games", "failed_at": now}),
    ]


def _night_budget(now: datetime) -> list[tuple[str, str, dict]]:
    """The NBA account's budget as the games agent would publish it mid-evening: three games on, three tweets in the
    last hour (the replayed part of the NFL afternoon has made no tweet yet: its rolling window is empty)."""
    games = [("nba-night-1", "LAL", "BOS", [13, 0, False]), ("nba-night-2", "MIA", "NYK", [9, 1, False]),
             ("nba-night-3", "DEN", "PHX", [5, 0, False])]  # fmt: skip
    state = tweet_budget.new_state("NBA", tweet_budget.slate_of(now), 17)
    for game_id, _, _, position in games:
        state = tweet_budget.with_game_position(state, game_id, position)
    for minutes in (50, 30, 10):
        state = tweet_budget.spend(state, "nba-night-1", f"p{minutes}", now - timedelta(minutes=minutes))
    start = now - timedelta(hours=2)
    schedule = [("league-events", "ScheduledGame", {"league": "NBA", "game_id": game_id, "home_team": home,
                 "away_team": away, "scheduled_start": start}) for game_id, home, away, _ in games]  # fmt: skip
    return [*schedule, ("tweet-budgets", "TweetBudget", tweet_budget.to_record(state, now))]


def _reversible_records(now: datetime) -> list[tuple[str, str, dict]]:
    """What the console can cancel or switch: an override, a league event and a silence in force, and a flag."""
    return [
        ("scaling-overrides", "ScalingOverride", {"override_id": "override-console-1", "league": "NFL",
         "predictive_enabled": True, "min_agents": 4, "max_agents": None, "reason": "season opener",
         "expires_at": now + timedelta(hours=3), "created_at": now - timedelta(minutes=20), "created_by": "ops"}),
        ("league-events", "LeagueEvent", {"event_id": "event-console-1", "league": "NFL", "kind": "breaking_news",
         "multiplier": 1.5, "starts_at": now - timedelta(minutes=5), "duration_seconds": 3600,
         "description": "trade rumours"}),
        ("silences", "Silence", {"silence_id": "silence-console-1", "matchers": {"alertname": "HighCpu",
         "server_id": "nfl-web-1", "league": "NFL"}, "starts_at": now - timedelta(minutes=2),
         "ends_at": now + timedelta(hours=1), "created_by": "ops", "comment": "known hot server"}),
        ("feature-flags", "FeatureFlag", {"flag_id": "scaling.actions@NBA", "name": "scaling.actions",
         "value": "forecast-only", "league": "NBA", "set_by": "ops", "set_at": now, "reason": "new model on trial"}),
    ]


def _tweets_with_receipts(now: datetime) -> list[tuple[str, str, dict]]:
    """Tweets about the sample's first games, one per publishing outcome (the last one not published yet)."""
    kickoff = datetime(2018, 9, 9, 17, 0, tzinfo=UTC)
    records = []
    outcomes = [("posted", "1049012345678901234", ""), ("dry_run", None, "dry run: X credentials not set"),
                ("failed", None, "X answered 503 three times"), ("skipped_limit", None, "over the daily limit"), None]
    for i, outcome in enumerate(outcomes):
        at = kickoff + timedelta(minutes=25 + 14 * i)
        command = tweet_command("NFL", f"console-{i}", at, game_id=f"201809090{i}", win_prob_home=0.3 + 0.1 * i,
                                text=f"Touchdown! A {7 * (i + 1)}-yard score swings game {i + 1}", significance=60.0 + i)
        records.append(("tweet-commands", "TweetCommand", command))
        if outcome is not None:
            status, tweet_id, detail = outcome
            records.append(("tweet-receipts", "TweetReceipt", {"command_id": command["command_id"], "account": "NFL",
                            "status": status, "tweet_id": tweet_id, "attempts": 1 + (status == "failed") * 2,
                            "detail": detail, "at": now}))
    return records


@pytest.fixture(scope="module")
def own_broker() -> Iterator[str]:
    """A broker of the browser tests' own: the session's holds other tests' games, and the pages show every game."""
    with running_broker() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="module")
def stack(own_broker) -> Iterator[Stack]:
    """Worker and API on a broker of their own, with the first plays of the NFL Sunday replayed through them."""
    broker = own_broker
    env = {"WIREREPORT_APP_ID": f"wr-console-{uuid.uuid4().hex[:6]}", "WIREREPORT_LOG_LEVEL": "WARNING"}
    port = free_port()
    api_env = {
        "WIREREPORT_JWT_SECRET": SECRET,
        "WIREREPORT_API_KEYS": f"nfl-1:{hash_key(NFL_KEY)}:read+league:NFL",
        "WIREREPORT_API_RATE_PER_SECOND": "1000",
        "WIREREPORT_API_RATE_BURST": "1000",
        "WIREREPORT_API_SSE_MAX_PER_CREDENTIAL": "50",
    }
    plays = sorted(_load("nfl_2018_week1_sunday.jsonl.gz", "Play"), key=lambda p: (p["occurred_at"], p["sequence"]))
    replayed = plays[: int(len(plays) * REPLAYED_SHARE)]
    last_play = {p["game_id"]: p["play_id"] for p in replayed}
    with WirereportProcess(["worker"], bootstrap=broker, env=env) as worker:
        worker.wait_for_output("worker ready", timeout=90)
        with WirereportProcess(["api", "--port", str(port)], bootstrap=broker, env=api_env) as api_proc:
            api_proc.wait_for_output("api ready", timeout=30)
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15)
            stack = Stack(f"http://127.0.0.1:{port}", broker, client, frozenset(last_play))
            now = datetime.now(UTC).replace(microsecond=0)
            records = _operations_records(now)
            receipts = {r["command_id"]: r["status"] for t, _, r in records if t == "tweet-receipts"}
            for topic, _, record in records:
                if topic == "tweet-commands":
                    stack.seeded_tweets[receipts.get(record["command_id"], "pending")] = record["command_id"]
            with EdgeProducer(broker) as producer:
                for game in _load("nfl_2018_week1_schedule.jsonl", "ScheduledGame"):
                    producer.send("league-events", game, schema="ScheduledGame")
                for topic, schema, record in records:
                    producer.send(topic, record, schema=schema)
                # in chunks, each awaited, as a game day trickles in: every game's win-probability line has points
                reached: dict[str, str] = {}
                for start in range(0, len(replayed), REPLAY_CHUNK):
                    for play in replayed[start : start + REPLAY_CHUNK]:
                        producer.send("plays", play)
                        reached[play["game_id"]] = play["play_id"]
                    producer.flush()

                    def caught_up() -> bool:
                        seen = {g["game_id"]: g.get("last_play_id") for g in stack.games()}
                        return all(seen.get(game) == play for game, play in reached.items())

                    wait_until(caught_up, 60, message=f"the replay never reached the API:\n{worker.output[-2000:]}")
            try:
                yield stack
            finally:
                client.close()


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium: Debian's package (``make browser`` installs it as root)."""
    path = chromium_path()
    if path is None:
        if os.geteuid() == 0:
            pytest.fail("no chromium on PATH: run 'make browser' (apt-get install -y chromium)")
        pytest.skip("no chromium on PATH and not root to install it: run 'make browser' as root")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


def sign_in(browser, stack: Stack, *, token_value: str | None = None, api_key: str | None = None, viewport=DESKTOP):
    """A new browser context signed in through the console's form; returns its page (on the Today page)."""
    context = browser.new_context(base_url=stack.url, viewport=viewport)
    context.add_init_script(path=str(AXE))  # not a page script: the console's CSP stays in force
    page = context.new_page()
    page.errors = []  # console errors and CSP refusals the page met
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto("/console")
    assert "/console/login" in page.url
    if api_key:
        page.fill("#login-api-key", api_key)
    else:
        page.fill("#login-token", token_value or token("admin"))
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/console")
    return page
