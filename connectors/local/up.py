"""The local stack behind ``wirereport up`` and ``make run``."""

from __future__ import annotations

import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

from connectors.exceptions import InputError
from connectors.kafka.admin import create_topics
from connectors.kafka.broker import port_open
from connectors.local.live_view import watch
from connectors.local.process_group import Child, ProcessGroup
from streams.settings import get_settings

SAMPLE_DATA = Path(__file__).resolve().parents[1] / "sample_data"
DEMO_PLAYS = SAMPLE_DATA / "nfl_2018_week1_sunday.jsonl.gz"
DEMO_SCHEDULE = SAMPLE_DATA / "nfl_2018_week1_schedule.jsonl"
DEMO_FEED_DAY = ("2018", "1", "2018-09-09")  # season, week, Eastern date: the demo Sunday, served as a live feed


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "connectors.cli.main", *args]


def _replay_files(args) -> tuple[Path | None, Path | None]:
    if args.replay == "none" or getattr(args, "feed", None):
        return None, None
    if args.replay == "demo":
        return DEMO_PLAYS, DEMO_SCHEDULE
    plays = Path(args.replay)
    if not plays.exists():
        raise InputError(f"{plays}: no such file")
    return plays, Path(args.schedule) if args.schedule else None


def _api_credentials(settings) -> tuple[dict[str, str], str | None]:
    """With no JWT secret configured, give this local session a random one and a read token to try the API."""
    if settings.jwt_secret is not None:
        return {}, None
    from connectors.auth.tokens import mint_token

    secret = secrets.token_urlsafe(32)
    token = mint_token(
        secret, "local-demo", "read", ttl_seconds=8 * 3600, issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    return {"WIREREPORT_JWT_SECRET": secret}, token


def _start_load_replay(group: ProcessGroup, settings, env: dict[str, str]) -> None:
    """A league-server metrics agent replaying a real load trace (hourly pedestrian counts, daily and weekly
    seasonality, no gaps), so forecasts, scaling decisions and health alerts flow too."""
    trace = Path(settings.data_dir) / "load-pedestrian.jsonl"
    if not trace.exists():
        trace.parent.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            _cli("load", "import", "--trace", "pedestrian", "--league", "NFL", "--scale", "20", "--out", str(trace)),
            capture_output=True,
            text=True,
            env={**os.environ, **env},
        )
        if result.returncode != 0:
            group.say("up", f"no load replay: {result.stderr.strip().splitlines()[-1:]}")
            return
    group.say("up", "replaying a real load trace through a metrics agent (server nfl-1)")
    group.start(
        Child(
            "agent",
            _cli("agent", "--server-id", "nfl-1", "--league", "NFL", "--replay", str(trace), "--speed", "36000"),
            critical=False,
            env=env,
        )
    )


def _start_local_feed(group: ProcessGroup, settings, env: dict[str, str], speed: float) -> None:
    """A local feed server revealing the demo Sunday's recorded games as they were played, and the feed poller
    following it into ``plays`` (and each game's ScheduledGame into ``league-events``) as it would a real feed."""
    from connectors.cli.cmd_feed_server import served_games
    from connectors.kafka.broker import free_port

    season, week, day = DEMO_FEED_DAY
    games = served_games(int(season), int(week), date.fromisoformat(day))
    port = free_port()
    server_args = ["feed-server", "--season", season, "--week", week, "--date", day, "--port", str(port)]
    server = group.start(Child("feed-server", _cli(*server_args, "--speed", f"{speed:g}"), critical=False, env=env))
    group.wait_for(server, lambda: server.printed("serving"), 60, "the feed server was serving")
    # The positions say what this broker already has; the embedded broker starts empty each session, so the
    # recorded day is sent again from its first play (a real feed's positions stay in WIREREPORT_DATA_DIR).
    feed_dir = Path(settings.data_dir) / "up-feed"
    if settings.uses_embedded_broker:
        for stale in feed_dir.glob("feed-nfl.sqlite*"):
            stale.unlink()
    url = f"http://127.0.0.1:{port}/{{game_id}}.json"
    poll_args = ["feed", "nfl", "--url-template", url, "--games", ",".join(games), "--interval", "1"]
    group.say("up", f"following a live feed of {len(games)} recorded NFL games at {speed:g}x ({url})")
    group.start(Child("feed", _cli(*poll_args), critical=False, env={**env, "WIREREPORT_DATA_DIR": str(feed_dir)}))


def run_up(args) -> int:
    settings = get_settings()
    plays, schedule = _replay_files(args)
    group = ProcessGroup()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    quiet_env = {"WIREREPORT_LOG_LEVEL": "ERROR" if args.quiet else args.log_level.upper()}
    env = {"WIREREPORT_KAFKA_BOOTSTRAP": settings.bootstrap}
    try:
        if settings.uses_embedded_broker:
            if port_open("127.0.0.1", settings.broker_port):
                raise InputError(
                    f"port {settings.broker_port} is in use (another 'wirereport up'?); "
                    "set WIREREPORT_BROKER_PORT or stop the other one"
                )
            broker = group.start(Child("broker", _cli("broker", "--port", str(settings.broker_port))))
            group.wait_for(
                broker, lambda: port_open("127.0.0.1", settings.broker_port), 30, "the broker accepted connections"
            )
        created = create_topics(settings.bootstrap, replication_factor=settings.replication_factor)
        group.say("up", f"topics ready on {settings.bootstrap} ({len(created)} created)")
        worker = group.start(Child("worker", _cli("worker"), env={**env, **quiet_env}))
        group.wait_for(worker, lambda: worker.printed("worker ready"), 120, "the worker was ready")
        if not args.no_api and importlib.util.find_spec("api.main") is not None:
            api_env, token = _api_credentials(settings)
            group.start(
                Child("api", _cli("api", "--port", str(settings.api_port)), env={**env, **quiet_env, **api_env})
            )
            base = f"http://{settings.api_host}:{settings.api_port}"
            group.say("up", f"API on {base}/docs")
            if token:
                group.say("up", f"try: curl -H 'Authorization: Bearer {token}' {base}/v1/games")
        group.start(Child("publisher", _cli("publisher"), critical=False, env={**env, **quiet_env}))
        if not args.no_scaling:
            _start_load_replay(group, settings, env)
        viewer = threading.Thread(target=watch, args=(settings.bootstrap, group.say, stop), daemon=True)
        viewer.start()
        if schedule:
            group.start(
                Child(
                    "schedule", _cli("replay", "league-events", str(schedule), "--speed", "0"), critical=False, env=env
                )
            )
        if getattr(args, "feed", None) == "nfl":
            _start_local_feed(group, settings, env, args.speed)
        if plays:
            group.say("up", f"replaying {plays.name} at {args.speed:g}x")
            group.start(
                Child(
                    "replay", _cli("replay", "plays", str(plays), "--speed", str(args.speed)), critical=False, env=env
                )
            )
        group.say("up", "running; press Ctrl-C to stop everything")
        while not stop.wait(0.5):
            failed = group.check()
            if failed:
                group.say("up", f"{failed.name} exited with status {failed.process.returncode}; stopping")
                return 1
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop.set()
        group.stop()
        group.say("up", "stopped")
