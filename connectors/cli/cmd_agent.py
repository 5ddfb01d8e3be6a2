"""``wirereport agent``: the metrics agent of a league server; ``wirereport agent-worker``: one scaled worker."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import sys
import threading
from pathlib import Path

from connectors.observability.cli_options import add_metrics_port_argument


def register(subparsers) -> None:
    p = subparsers.add_parser("agent", help="sample this league server and produce SystemMetrics")
    p.add_argument("--server-id", required=True, help="this server's id (the message key)")
    p.add_argument("--league", required=True, choices=["NFL", "NBA", "WNBA"])
    p.add_argument("--interval", type=float, help="seconds between samples (settings default 30)")
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--workload-file",
        help="file holding the work-unit counter the league server increments (the first sample follows the"
        " second reading; a tick whose reading is no finite count >= 0 sends no sample and is logged). Default,"
        " with none of --workload-file/--workload-cmd/--replay: $WIREREPORT_DATA_DIR/workload-<league>.counter"
        " (league in lower case, e.g. var/workload-nba.counter), which must exist when the agent starts",
    )
    src.add_argument("--workload-cmd", help="command printing the work-unit counter (as --workload-file)")
    src.add_argument(
        "--replay", help="LoadSample JSON lines to replay (their timestamps and workloads; checked whole first)"
    )
    p.add_argument("--speed", type=float, default=1.0, help="replay: trace seconds per wall second (default 1)")
    p.add_argument("--count", type=int, help="stop after this many samples")
    p.add_argument(
        "--worker-match",
        help="regex of a league worker's command line, counted as active_agents ({league} is filled in; '' = off)",
    )
    p.add_argument("--verbose-samples", action="store_true", help="print every sample")
    p.add_argument(
        "--app-metrics-url",
        help="the league server's Prometheus metrics URL, read for error_rate, latency_ms and version"
        " (default: WIREREPORT_APP_METRICS_URL; unset: sent as null)",
    )
    add_metrics_port_argument(p)
    p.set_defaults(func=run_agent)

    w = subparsers.add_parser("agent-worker", help="one league worker process (what the local scaler runs)")
    w.add_argument("--league", required=True)
    w.add_argument("--index", type=int, default=0)
    w.set_defaults(func=run_worker)


def default_counter_file(data_dir: Path | str, league: str) -> Path:
    """The workload counter read when no workload option is given: ``<data_dir>/workload-<league>.counter``."""
    return Path(data_dir) / f"workload-{league.lower()}.counter"


def run_agent(args) -> int:
    from connectors.exceptions import InputError
    from connectors.observability.cli_options import metrics_port
    from connectors.observability.metrics_server import serve_metrics
    from connectors.sources.metrics.agent import MetricsAgent
    from connectors.sources.metrics.app_signals import AppSignalReader, SignalNames
    from connectors.sources.metrics.workload import (
        CounterWorkload,
        WorkerCount,
        check_replay,
        counter_command,
        counter_file,
        replay_readings,
    )
    from streams.settings import get_settings

    settings = get_settings()
    interval = args.interval if args.interval is not None else settings.metrics_interval_seconds
    if interval <= 0 or args.speed <= 0:
        raise InputError("--interval and --speed must be positive")
    if not args.server_id.strip():
        raise InputError("--server-id must not be empty")
    if args.count is not None and args.count <= 0:
        raise InputError("--count must be positive")
    if args.replay:
        if args.replay == "-":
            raise InputError("--replay needs a file (it is checked whole before anything is sent), not stdin")
        check_replay(Path(args.replay), args.league)  # every bad line is an error before anything is sent
        workload = replay_readings(Path(args.replay), args.league)
    elif args.workload_cmd:
        workload = CounterWorkload(counter_command(args.workload_cmd))
        if not shutil.which(shlex.split(args.workload_cmd)[0]):
            raise InputError(f"--workload-cmd: {shlex.split(args.workload_cmd)[0]}: command not found")
    else:
        path = Path(args.workload_file or default_counter_file(settings.data_dir, args.league))
        if path.is_dir():
            raise InputError(f"{path}: is a directory, not a workload counter file")
        if not args.workload_file and not path.exists():  # else every tick would be skipped, silently, for ever
            raise InputError(
                f"no workload given and the default counter file {path} does not exist:"
                " pass --workload-file FILE, --workload-cmd CMD or --replay FILE (or create that file)"
            )
        workload = CounterWorkload(counter_file(path))

    def event(line: str) -> None:
        if args.verbose_samples or not line.startswith("sample "):
            print(line, flush=True)

    match = args.worker_match if args.worker_match is not None else settings.metrics_worker_match
    active_agents = WorkerCount(args.league, match) if match else (lambda: 0)
    metrics, readiness, server = serve_metrics("agent", metrics_port(args, settings), settings.metrics_host)
    app_url = args.app_metrics_url or settings.app_metrics_url
    app_signals = None
    if app_url:
        app_signals = AppSignalReader(
            app_url,
            SignalNames.from_settings(settings),
            timeout=settings.app_metrics_timeout_seconds,
            on_up=lambda up: metrics.app_metrics_up.set(1 if up else 0),
        )

    def broker(reachable: bool) -> None:
        if reachable:
            readiness.set_ready()
        else:
            readiness.set_not_ready("broker unreachable, buffering samples on disk")

    agent = MetricsAgent(
        args.server_id,
        args.league,
        settings.bootstrap,
        Path(settings.data_dir),
        interval=interval,
        workload=workload,
        max_buffered=settings.metrics_buffer_max,
        active_agents=active_agents,
        speed=args.speed if args.replay else None,
        on_event=event,
        app_signals=app_signals,
        metrics=metrics,
        on_broker=broker,
    )
    metrics.on_scrape(lambda: metrics.agent_buffered.set(len(agent.buffer)))
    # Ctrl-C and SIGTERM stop the agent cleanly (a KeyboardInterrupt inside Thread.join is unsafe before 3.13)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    signal.signal(signal.SIGINT, lambda *_: agent.stop())
    errors: list[Exception] = []

    def run() -> None:
        try:
            agent.run(count=args.count)
        except Exception as exc:  # raised again here, in the main thread: one error line and its exit code
            errors.append(exc)

    runner = threading.Thread(target=run, name="metrics-agent", daemon=True)
    readiness.set_ready()  # sampling from now on; the sender says "not ready" while the broker is unreachable
    runner.start()
    try:
        while runner.is_alive():
            runner.join(0.5)
    finally:
        readiness.set_not_ready("stopping")
        if server is not None:
            server.stop()
    buffered = len(agent.buffer)
    agent.close()
    skipped = f", {agent.skipped} skipped" if agent.skipped else ""
    print(
        f"agent stopped: {agent.samples} sample(s) taken{skipped}, {agent.sender.sent} sent, {buffered} left on disk",
        flush=True,
    )
    if errors:
        raise errors[0]
    return 0


def run_worker(args) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"worker ready: league {args.league} index {args.index} pid {os.getpid()}", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    print(f"worker {args.index} stopped", file=sys.stderr, flush=True)
    return 0
