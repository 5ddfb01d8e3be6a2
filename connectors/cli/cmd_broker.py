"""``wirereport broker``: run the embedded broker in the foreground."""

from __future__ import annotations

import signal
import threading

from connectors.observability.cli_options import add_metrics_port_argument


def register(subparsers) -> None:
    p = subparsers.add_parser("broker", help="run the embedded Kafka broker (Tansu) in the foreground")
    p.add_argument("--port", type=int, help="port to listen on (default: WIREREPORT_BROKER_PORT, 19092)")
    add_metrics_port_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from connectors.kafka.broker import EmbeddedBroker
    from connectors.observability.cli_options import serve_process_metrics
    from streams.settings import get_settings

    settings = get_settings()
    port = args.port or settings.broker_port
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    _, readiness, server = serve_process_metrics(args, settings, "broker")
    try:
        with EmbeddedBroker(port) as broker:
            readiness.set_ready()
            print(f"embedded broker ready: bootstrap {broker.bootstrap} (Ctrl-C to stop)", flush=True)
            while not stop.wait(0.5):
                if broker.process is None or broker.process.poll() is not None:
                    readiness.set_not_ready("the embedded broker exited")
                    print("wirereport: error: embedded broker exited unexpectedly", flush=True)
                    return 1
            readiness.set_not_ready("stopping")
    finally:
        if server is not None:
            server.stop()
    print("embedded broker stopped", flush=True)
    return 0
