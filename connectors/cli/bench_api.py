"""``wirereport bench api``: bounded local load on ``GET /v1/games/{id}`` (httpx async), with ``GET /health``
measured in the same run as the HTTP stack's baseline. Starts its own embedded broker and API unless ``--url``."""

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
        if games[2]:
            print(f"wirereport: warning: {games[2]} requests did not answer 200", file=sys.stderr)
    return 0
