"""``wirereport worker``: run the Faust worker (all agents) against the configured cluster."""

from __future__ import annotations

import logging

from connectors.observability.cli_options import add_metrics_port_argument


def register(subparsers) -> None:
    p = subparsers.add_parser("worker", help="run the stream processing worker (Faust agents)")
    p.add_argument("--loglevel", default=None, help="worker log level (default: WIREREPORT_LOG_LEVEL)")
    add_metrics_port_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from connectors.kafka.admin import create_topics
    from connectors.local.worker import run_worker
    from connectors.observability.cli_options import metrics_port
    from streams.settings import get_settings

    settings = get_settings()
    create_topics(settings.bootstrap, replication_factor=settings.replication_factor)
    logging.getLogger(__name__).info("worker starting on %s", settings.bootstrap)
    return run_worker(settings, loglevel=args.loglevel or settings.log_level, metrics_port=metrics_port(args, settings))
