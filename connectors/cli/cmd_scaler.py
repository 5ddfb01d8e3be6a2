"""``wirereport scaler``: carry out scaling commands (local worker processes or a Kubernetes Deployment)."""

from __future__ import annotations

import logging
from pathlib import Path

from connectors.observability.cli_options import add_metrics_port_argument


def register(subparsers) -> None:
    p = subparsers.add_parser("scaler", help="carry out scaling commands through an executor")
    p.add_argument("--executor", choices=["local", "kubernetes"], help="settings default: local")
    p.add_argument("--league", action="append", choices=["NFL", "NBA", "WNBA"], help="only these leagues")
    p.add_argument("--worker-cmd", help="local: a worker's command ({league} and {index} are filled in)")
    add_metrics_port_argument(p)
    p.set_defaults(func=run)


def build_executor(kind: str, settings, worker_cmd: str | None, leagues=("NFL", "NBA", "WNBA")):
    """The executor, its settings checked first (``InputError``: API URL not http(s), worker program not found)."""
    from connectors.effectors.scaling.executors import (
        DEFAULT_WORKER,
        KubernetesExecutor,
        LocalProcessExecutor,
        check_worker_command,
    )

    if kind == "kubernetes":
        token = settings.k8s_token.get_secret_value() if settings.k8s_token else None
        return KubernetesExecutor(
            settings.k8s_api_url, token, settings.k8s_namespace, settings.k8s_deployment, settings.k8s_ca_file
        )
    return LocalProcessExecutor(
        check_worker_command(worker_cmd or settings.scaler_worker_cmd or DEFAULT_WORKER, leagues)
    )


def run(args) -> int:
    from connectors.effectors.base import stop_on_signals
    from connectors.effectors.scaling.scaler import AppliedCommands, Scaler, run_scaler
    from connectors.exceptions import InputError
    from streams.settings import get_settings

    settings = get_settings()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the scaler prints its own line for each outcome
    kind = args.executor or settings.scaler_executor
    if kind not in ("local", "kubernetes"):
        raise InputError(f"unknown executor {kind!r} (local or kubernetes)")
    executor = build_executor(kind, settings, args.worker_cmd, args.league or ("NFL", "NBA", "WNBA"))
    applied = AppliedCommands(Path(settings.data_dir) / "scaler-applied.sqlite3")
    scaler = Scaler(
        executor,
        applied,
        set(args.league) if args.league else None,
        on_event=lambda line: print(line, flush=True),
        retry_initial_seconds=settings.scaler_retry_initial_seconds,
        retry_max_seconds=settings.scaler_retry_max_seconds,
        reconcile_seconds=settings.scaler_reconcile_seconds,
    )
    from connectors.observability.cli_options import serve_process_metrics

    metrics, readiness, server = serve_process_metrics(args, settings, "scaler")
    try:
        if server is None:
            run_scaler(scaler, settings.bootstrap, stop_on_signals())
        else:
            run_scaler(scaler, settings.bootstrap, stop_on_signals(), metrics, readiness)
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.stop()
        executor.close()
        applied.close()
    print("scaler stopped", flush=True)
    return 0
