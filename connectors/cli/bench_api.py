"""``wirereport bench api``: bounded local load on ``GET /v1/games/{id}`` (httpx async), with ``GET /health``
measured in the same run as the HTTP stack's baseline; then the operator console: its Today page with 16 live games
(time until the server-rendered HTML is complete) and its SSE fan-out (consoles connected at once, latency from a
``game-state`` record produced to its event read by every console). Starts its own broker and API unless ``--url``."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from urllib.parse import urlsplit

from connectors.exceptions import ConnectorError, InputError


def register(subparsers) -> None:
    p = subparsers.add_parser("api", help="load test GET /v1/games/{id}: requests/s and p50/p99 latency")
    p.add_argument("--requests", type=int, default=5000, help="requests per measured run (default 5000)")
    p.add_argument("--concurrency", type=int, default=50, help="requests in flight (default 50)")
    p.add_argument("--url", help="an already running API (default: start broker + API locally)")
    p.add_argument("--token", help="bearer token for --url (default: minted with WIREREPORT_JWT_SECRET)")
    p.add_argument("--game-id", default="bench-game", help="game to query (produced when the bench starts the API)")
    p.add_argument(
        "--ingest", type=int, default=50000, help="GameState updates for the read-model ingest run (0: skip)"
    )
    p.add_argument("--consoles", type=int, default=100, help="consoles connected for the SSE fan-out (0: skip)")
    p.add_argument("--console-updates", type=int, default=30, help="game updates sent to the connected consoles")
    p.set_defaults(func=run)


def _game(game_id: str) -> dict:
    return {
        "game_id": game_id,
        "league": "NFL",
        "home_team": "KC",
        "away_team": "BUF",
        "home_score": 24,
        "away_score": 21,
        "period": 4,
        "clock_seconds": 95,
        "status": "live",
        "last_play_id": "p180",
        "last_sequence": 180,
        "plays_seen": 180,
        "updated_at": datetime.now(UTC),
        "win_prob_home": 0.64,
        "possession": "BUF",
        "last_description": "J.Allen pass short right to S.Diggs for 12 yards",
    }


async def _load_raw(url: str, headers: dict, total: int, concurrency: int) -> tuple[float, list[float], int]:
    """Keep-alive HTTP/1.1 GETs over ``concurrency`` asyncio connections (a minimal client: at concurrency 50
    httpx's AsyncClient is ~10x slower than the server on this host, so it would measure itself)."""
    parts = urlsplit(url)
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{extra}\r\n".encode()
    latencies: list[float] = []
    errors = 0
    remaining = total

    async def worker() -> None:
        nonlocal remaining, errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - start)
                errors += head[9:12] != b"200"
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies, errors


async def _load_httpx(url: str, headers: dict, total: int, concurrency: int) -> tuple[float, list[float], int]:
    """The same load through httpx.AsyncClient, for comparison."""
    import httpx

    latencies: list[float] = []
    errors = 0
    remaining = total
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                r = await client.get(url)
                latencies.append(time.perf_counter() - start)
                errors += r.status_code != 200

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return elapsed, latencies, errors


def _report(name: str, elapsed: float, latencies: list[float], errors: int) -> str:
    q = statistics.quantiles(latencies, n=100)
    return (
        f"{name:<26} {len(latencies):>6} req in {elapsed:5.2f}s = {len(latencies) / elapsed:7,.0f} req/s   "
        f"p50 {q[49] * 1000:6.2f} ms  p99 {q[98] * 1000:6.2f} ms  max {max(latencies) * 1000:6.1f} ms  "
        f"non-200 {errors}"
    )


def _ingest(bootstrap: str, url: str, headers: dict, n: int) -> tuple[float, float]:
    """Produce ``n`` GameState updates (2,000 games); return (seconds until the API's read model holds them all,
    seconds for a raw aiokafka consumer to read the whole topic)."""
    import httpx

    from connectors.kafka.edge import EdgeProducer

    def records() -> int:
        status = httpx.get(f"{url}/v1/system/read-model", headers=headers, timeout=10).json()
        return status["topics"]["game-state"]["records"]

    before = records()
    template = _game("x")
    start = time.perf_counter()
    with EdgeProducer(bootstrap) as producer:
        for i in range(n):
            producer.send("game-state", {**template, "game_id": f"ingest-{i % 2000}", "plays_seen": i})
    while records() < before + n:
        if time.perf_counter() - start > 120:
            raise ConnectorError("the read model did not ingest the bench records within 120s")
        time.sleep(0.02)
    api_seconds = time.perf_counter() - start
    return api_seconds, asyncio.run(_raw_consume(bootstrap, before + n))


async def _raw_consume(bootstrap: str, total: int) -> float:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streams.runtime.kafka_security import aiokafka_security_kwargs
    from streams.settings import get_settings

    security = aiokafka_security_kwargs(get_settings())
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **security)
    await consumer.start()
    try:
        parts = [TopicPartition("game-state", p) for p in consumer.partitions_for_topic("game-state") or ()]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        seen = 0
        start = time.perf_counter()
        while seen < total and time.perf_counter() - start < 60:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            seen += sum(len(m) for m in batches.values())
        return time.perf_counter() - start
    finally:
        await consumer.stop()


def _start_local(stack: ExitStack, game_id: str) -> tuple[str, str, str]:
    """Embedded broker + topics + one game + ``wirereport api`` subprocess; return (base url, token)."""
    import httpx

    from connectors.auth.tokens import mint_token
    from connectors.kafka.admin import create_topics
    from connectors.kafka.broker import EmbeddedBroker, free_port
    from connectors.kafka.edge import EdgeProducer

    broker = stack.enter_context(EmbeddedBroker(free_port()))
    create_topics(broker.bootstrap)
    with EdgeProducer(broker.bootstrap) as producer:
        producer.send("game-state", _game(game_id))
    secret = secrets.token_urlsafe(48)
    port = free_port()
    env = {
        **os.environ,
        "WIREREPORT_KAFKA_BOOTSTRAP": broker.bootstrap,
        "WIREREPORT_JWT_SECRET": secret,
        "WIREREPORT_API_RATE_PER_SECOND": "1000000",
        "WIREREPORT_API_RATE_BURST": "1000000",
        "WIREREPORT_API_SSE_MAX_PER_CREDENTIAL": "1000",  # every bench console signs in with the same token
        "WIREREPORT_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "connectors.cli.main", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(lambda: (proc.terminate(), proc.wait(10)))
    url = f"http://127.0.0.1:{port}"
    token = mint_token(secret, "bench", "read", issuer="wirereport", audience="wirereport-api")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConnectorError(f"the API exited with status {proc.returncode} at start")
        try:
            r = httpx.get(f"{url}/v1/games/{game_id}", headers={"Authorization": f"Bearer {token}"}, timeout=2)
            if r.status_code == 200:
                return url, token, broker.bootstrap
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ConnectorError("the API did not serve the bench game within 30s")


def run(args) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one log line per request would be the bottleneck
    if args.requests < 100 or not 1 <= args.concurrency <= 1000:
        raise InputError("--requests must be >= 100 and --concurrency between 1 and 1000")
    if not 0 <= args.consoles <= 1000 or not 1 <= args.console_updates <= 1000:
        raise InputError("--consoles must be between 0 and 1000 and --console-updates between 1 and 1000")
    with ExitStack() as stack:
        if args.url:
            url, token = args.url.rstrip("/"), args.token
            if token is None:
                from connectors.auth.tokens import mint_token
                from streams.settings import get_settings

                s = get_settings()
                secret = s.jwt_secret.get_secret_value() if s.jwt_secret else None
                token = mint_token(secret, "bench", "read", issuer=s.jwt_issuer, audience=s.jwt_audience)
        else:
            url, token, bootstrap = _start_local(stack, args.game_id)
        headers = {"Authorization": f"Bearer {token}"}
        target = f"{url}/v1/games/{args.game_id}"
        n, c = args.requests, args.concurrency
        asyncio.run(_load_raw(target, headers, min(500, n), c))  # warm-up
        base = asyncio.run(_load_raw(f"{url}/health", {}, n, c))
        games = asyncio.run(_load_raw(target, headers, n, c))
        via_httpx = asyncio.run(_load_httpx(target, headers, max(100, n // 5), c))
        print(
            f"API load test: {n} requests per run, concurrency {c}, client and server on this host ({os.cpu_count()} CPUs)"
        )
        print(_report("GET /health (baseline)", *base))
        print(_report("GET /v1/games/{id}", *games))
        print(_report("same via httpx.AsyncClient", *via_httpx))
        if not args.url and args.ingest > 0:
            api_s, raw_s = _ingest(bootstrap, url, headers, args.ingest)
            print(
                f"read-model ingest: {args.ingest} GameState updates produced and applied in {api_s:.2f}s = "
                f"{args.ingest / api_s:,.0f} records/s (raw aiokafka consume of the topic: {args.ingest / raw_s:,.0f}/s)"
            )
        if args.consoles > 0:
            if not args.url:
                _produce_live_slate(bootstrap)
                _wait_for_slate(url, headers)
            _console_bench(url, token, args, None if args.url else bootstrap)
        if games[2]:
            print(f"wirereport: warning: {games[2]} requests did not answer 200", file=sys.stderr)
    return 0


# --- the operator console ------------------------------------------------------------------------------------
SLATE_GAMES = 16
WP_POINTS = 60  # win-probability updates per game before the page is loaded
PAGE_LOADS = 200


def _produce_live_slate(bootstrap: str) -> None:
    """16 live games with a win-probability history each, and a tweet per game: a busy Sunday's Today page."""
    from datetime import timedelta

    from connectors.kafka.edge import EdgeProducer
    from connectors.testing.records import tweet_command

    start = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    with EdgeProducer(bootstrap) as producer:
        for g in range(SLATE_GAMES):
            game_id = f"slate-{g:02d}"
            for i in range(WP_POINTS):
                at = start + timedelta(seconds=40 * i)
                wp = 0.5 + 0.4 * ((i * (g + 1)) % 20 - 10) / 10
                producer.send(
                    "game-state",
                    {**_game(game_id), "updated_at": at, "win_prob_home": wp, "plays_seen": i, "home_score": i // 6},
                )
            producer.send("tweet-commands", tweet_command("NFL", f"p{g}", start, game_id=game_id))


def _wait_for_slate(url: str, headers: dict) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        games = httpx.get(f"{url}/v1/games", params={"limit": 200}, headers=headers, timeout=10).json()["items"]
        slate = [g for g in games if g["game_id"].startswith("slate-") and g["plays_seen"] == WP_POINTS - 1]
        if len(slate) == SLATE_GAMES:
            return
        time.sleep(0.1)
    raise ConnectorError("the API did not show the bench's 16 live games within 30s")


def _console_cookie(url: str, token: str) -> str:
    import httpx

    r = httpx.post(f"{url}/console/login", data={"token": token}, timeout=10, follow_redirects=False)
    cookie = r.cookies.get("wr_console")
    if r.status_code != 303 or not cookie:
        raise ConnectorError(f"console sign-in failed: {r.status_code} {r.text[:200]}")
    return cookie


async def _page_loads(url: str, cookie: str, n: int) -> tuple[float, list[float], int]:
    return await _load_raw(f"{url}/console", {"Cookie": f"wr_console={cookie}"}, n, 4)


async def _fan_out(url: str, cookie: str, consoles: int, updates: int, bootstrap: str) -> tuple[list[float], int]:
    """Connect ``consoles`` page streams, produce ``updates`` game records (one every 50 ms) and time each one's
    arrival at every console; return the latencies and how many deliveries were missing after 10 s."""
    parts = urlsplit(url)
    request = (
        f"GET /console/events?views=games HTTP/1.1\r\nHost: {parts.netloc}\r\nCookie: wr_console={cookie}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    ready = 0
    all_ready = asyncio.Event()

    async def console() -> None:
        nonlocal ready
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if head[9:12] != b"200":
                raise ConnectorError(f"console stream refused: {head[:60]!r}")
            seen: set[int] = set()
            while len(seen) < updates:
                line = await reader.readline()
                if line.startswith(b"event: ready"):
                    ready += 1
                    if ready == consoles:
                        all_ready.set()
                marker = line.find(b'"plays_seen":')
                if line.startswith(b"data:") and b'"fanout"' in line and marker > 0:
                    seq = int(line[marker + 13 :].split(b",", 1)[0].split(b"}", 1)[0])
                    if seq in sent_at and seq not in seen:
                        seen.add(seq)
                        latencies.append(time.perf_counter() - sent_at[seq])
        finally:
            writer.close()

    from connectors.kafka.edge import EdgeProducer

    clients = [asyncio.create_task(console()) for _ in range(consoles)]
    await asyncio.wait_for(all_ready.wait(), 30)
    with EdgeProducer(bootstrap) as producer:
        for seq in range(updates):
            sent_at[seq] = time.perf_counter()
            record = {**_game("fanout"), "game_id": "fanout", "plays_seen": seq, "updated_at": datetime.now(UTC)}
            await asyncio.to_thread(lambda r=record: (producer.send("game-state", r), producer.flush(10)))
            await asyncio.sleep(0.05)
    _, pending = await asyncio.wait(clients, timeout=10)
    for task in pending:
        task.cancel()
    return latencies, consoles * updates - len(latencies)


def _console_bench(url: str, token: str, args, bootstrap: str | None) -> None:
    cookie = _console_cookie(url, token)
    elapsed, loads, errors = asyncio.run(_page_loads(url, cookie, PAGE_LOADS))
    print(_report("console Today page (HTML)", elapsed, loads, errors))
    if bootstrap is None:  # the fan-out produces game records: only on the bench's own broker
        return
    latencies, missing = asyncio.run(_fan_out(url, cookie, args.consoles, args.console_updates, bootstrap))
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    print(
        f"console SSE fan-out: {args.consoles} consoles x {args.console_updates} game updates, produced to Kafka "
        f"-> event read by each console: p50 {q[49] * 1000:6.1f} ms  p99 {q[98] * 1000:6.1f} ms  "
        f"max {max(latencies) * 1000:6.1f} ms  missing {missing}"
    )
