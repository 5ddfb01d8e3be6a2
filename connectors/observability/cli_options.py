"""The ``--metrics-port`` option every long-running command takes (no heavy imports: every CLI start loads it)."""

from __future__ import annotations


def add_metrics_port_argument(parser) -> None:
    """``--metrics-port P``: serve /metrics, /health and /ready (default: WIREREPORT_METRICS_PORT, 0 = off)."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve /metrics, /health and /ready on this port (default: WIREREPORT_METRICS_PORT; 0 = off)",
    )


def metrics_port(args, settings) -> int:
    """The port asked for: ``--metrics-port`` if given, else the setting."""
    port = getattr(args, "metrics_port", None)
    return settings.metrics_port if port is None else port


def serve_process_metrics(args, settings, process: str):
    """``(metrics, readiness, server)`` of ``process`` as the option and settings say (``server`` is None when
    off: the process then need not record anything)."""
    from connectors.observability.metrics_server import serve_metrics

    return serve_metrics(process, metrics_port(args, settings), settings.metrics_host)


def observe_effector(effector, args, settings, process: str):
    """Serve ``process``'s metrics (when asked) with ``effector``'s loop reporting into them; the server or None."""
    metrics, readiness, server = serve_process_metrics(args, settings, process)
    if server is not None:
        effector.observe(metrics, readiness)
    return server
