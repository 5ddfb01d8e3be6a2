"""A running stack (embedded broker, ``wirereport worker``, ``wirereport api``, ``wirereport publisher`` posting to the
testing kit's fake X) replaying the real NFL sample, and a real Chromium (Debian's package, driven by Playwright) to
use the console on it. One stack for the whole folder (package-scoped fixtures)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from connectors.auth.tokens import hash_key, mint_token
from connectors.effectors.tweets.accounts import CREDENTIAL_FIELDS, XCredentials, env_name
from connectors.kafka.broker import free_port
from connectors.kafka.edge import EdgeProducer
from connectors.testing import SAMPLE_DATA, WirereportProcess, running_broker, tweet_command, wait_until
from connectors.testing.fake_x import FakeX
from schemas.json_form import from_json
from streams.games import tweet_budget

SECRET = "browser-test-secret-" * 3
NFL_KEY = "nfl-console-key-0123456789"
REPLAY_CHUNK = 60  # plays per awaited chunk
REPLAYED_SHARE = 0.4  # of the sample's plays, in time order: every game is under way, none is over
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
X_ACCOUNTS = ("NFL", "NBA")  # with credentials; WNBA has none: its tweets are held until it gets some
# What the seeded tweets come to with the real publisher: posted, failed (X answers 503 to its text until a test heals
# it; 2 attempts, so 2 failures out of at least 5 calls never open the x-api breaker) or pending (held: WNBA has no
# credentials), in order
SEEDED = ("posted", "posted", "failed", "posted", "pending")


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def token(scopes: str, subject: str = "ops") -> str:
    return mint_token(SECRET, subject, scopes, issuer="wirereport", audience="wirereport-api")


@dataclass
class Stack:
    url: str
    bootstrap: str
    api: httpx.Client
    x: FakeX
    publisher: WirereportProcess
    replayed_games: frozenset[str] = frozenset()
    seeded_tweets: dict[str, dict] = field(default_factory=dict)  # what it came to (SEEDED) -> the first such command

    def games(self) -> list[dict]:
        r = self.api.get("/v1/games", params={"limit": 200}, headers={"Authorization": f"Bearer {token('read')}"})
        r.raise_for_status()
        return r.json()["items"]

    def tweet(self, command: dict) -> dict | None:
        """The tweet as ``GET /v1/tweets`` answers it (with its ``publish_status`` and ``receipt``), or None."""
        params = {"account": command["account"], "limit": 200}
        r = self.api.get("/v1/tweets", params=params, headers={"Authorization": f"Bearer {token('read')}"})
        r.raise_for_status()
        return next((t for t in r.json()["items"] if t["command_id"] == command["command_id"]), None)

    def publish_status(self, command: dict) -> str | None:
        return (self.tweet(command) or {}).get("publish_status")


def _load(name: str, schema: str) -> list[dict]:
    path = SAMPLE_DATA / name
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        return [from_json(schema, json.loads(line)) for line in fh if line.strip()]


# The seeded records read best a few fields per line.
# fmt: off
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
        *[("tweet-commands", "TweetCommand", command) for command in _seeded_tweets()],
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


def _seeded_tweets() -> list[dict]:
    """Tweets about the sample's first games (SEEDED says what each comes to); the last one WNBA's, held."""
    kickoff = datetime(2018, 9, 9, 17, 0, tzinfo=UTC)
    commands = []
    for i, outcome in enumerate(SEEDED):
        at = kickoff + timedelta(minutes=25 + 14 * i)
        if outcome == "pending":
            command = tweet_command("WNBA", f"console-{i}", at, game_id="wnba-console-1", league="WNBA",
                                    text="Buzzer beater! The Storm take game 1 of the Finals", significance=75.0)
        else:
            command = tweet_command("NFL", f"console-{i}", at, game_id=f"201809090{i}", win_prob_home=0.3 + 0.1 * i,
                                    text=f"Touchdown! A {7 * (i + 1)}-yard score swings game {i + 1}",
                                    significance=60.0 + i)  # fmt: skip
        commands.append(command)
    return commands



# fmt: on
def x_credentials(account: str) -> XCredentials:
    a = account.lower()
    return XCredentials(consumer_key=f"{a}-console-ck", consumer_secret=f"{a}-console-cs",
                        access_token=f"1234-{a}-console-at", access_token_secret=f"{a}-console-ats")  # fmt: skip


@pytest.fixture(scope="package")
def own_broker() -> Iterator[str]:
    """A broker of the browser tests' own: the session's holds other tests' games, and the pages show every game."""
    with running_broker() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="package")
def fake_x() -> Iterator[FakeX]:
    fake = FakeX({a: x_credentials(a) for a in X_ACCOUNTS})
    with fake.serving() as url:
        fake.url = url
        yield fake


def publisher_env(fake_x: FakeX, data_dir: Path) -> dict[str, str]:
    """The publisher's settings: X's base URL (the fake's), the accounts' keys, quick retries, INFO logs (the tests
    wait for its log of a control applied)."""
    keys = {
        env_name(a, name): getattr(x_credentials(a), name).get_secret_value()
        for a in X_ACCOUNTS
        for name in CREDENTIAL_FIELDS
    }
    return {
        **keys,
        "WIREREPORT_DATA_DIR": str(data_dir),
        "WIREREPORT_X_API_BASE_URL": fake_x.url,
        "WIREREPORT_PUBLISHER_RETRY_BASE_SECONDS": "0.2",
        "WIREREPORT_PUBLISHER_RETRY_MAX_SECONDS": "1",
        "WIREREPORT_PUBLISHER_MAX_ATTEMPTS": "2",
        "WIREREPORT_LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="package")
def stack(own_broker, fake_x, tmp_path_factory) -> Iterator[Stack]:
    """Worker, API and publisher on a broker of their own, with the first plays of the NFL Sunday replayed through
    them and the seeded tweets published (SEEDED)."""
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
    seeded = _seeded_tweets()
    fake_x.fail_text(seeded[SEEDED.index("failed")]["text"])
    with ExitStack() as processes:
        data = tmp_path_factory.mktemp("stack")
        worker = processes.enter_context(
            WirereportProcess(["worker"], bootstrap=broker, env={**env, "WIREREPORT_DATA_DIR": str(data / "worker")})
        )
        publisher = processes.enter_context(  # started alongside the worker: ready long before it
            WirereportProcess(["publisher"], bootstrap=broker, env=publisher_env(fake_x, data / "publisher"))
        )
        worker.wait_for_output("worker ready", timeout=90)
        api_env["WIREREPORT_DATA_DIR"] = str(data / "api")
        api_proc = processes.enter_context(
            WirereportProcess(["api", "--port", str(port)], bootstrap=broker, env=api_env)
        )
        api_proc.wait_for_output("api ready", timeout=30)
        publisher.wait_for_output("tweet publisher ready", timeout=30)
        assert "X API as NFL, NBA; held, no credentials: WNBA" in publisher.output
        client = processes.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15))
        stack = Stack(f"http://127.0.0.1:{port}", broker, client, fake_x, publisher, frozenset(last_play))
        for outcome, command in zip(SEEDED, seeded, strict=True):
            stack.seeded_tweets.setdefault(outcome, command)
        now = datetime.now(UTC).replace(microsecond=0)
        with EdgeProducer(broker) as producer:
            for game in _load("nfl_2018_week1_schedule.jsonl", "ScheduledGame"):
                producer.send("league-events", game, schema="ScheduledGame")
            for topic, schema, record in _operations_records(now):
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
        expected = {"posted": "posted", "failed": "failed", "pending": "held"}
        wait_until(
            lambda: all(stack.publish_status(c) == expected[o] for o, c in zip(SEEDED, seeded, strict=True)),
            30,
            message=lambda: f"the seeded tweets were not published as {SEEDED}:\n{publisher.output[-3000:]}",
        )
        yield stack


@pytest.fixture(scope="package")
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
