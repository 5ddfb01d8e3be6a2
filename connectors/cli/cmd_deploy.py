"""``wirereport deploy request|rollback|status|manager``: ask for deployments and run the deployment manager."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from connectors.observability.cli_options import add_metrics_port_argument

LEAGUES = ("NFL", "NBA", "WNBA")


def register(subparsers) -> None:
    p = subparsers.add_parser("deploy", help="request deployments / rollbacks, show them, run the manager")
    sub = p.add_subparsers(dest="deploy_command", metavar="ACTION")
    p.set_defaults(func=lambda args: p.print_help() or 2)

    req = sub.add_parser("request", help="request a deployment of a version (git tag) to league servers")
    req.add_argument("--version", required=True, help="version to deploy (a git tag in the servers' working copies)")
    req.add_argument("--league", required=True, type=str.upper, choices=LEAGUES, help="league whose servers these are")
    req.add_argument("--targets", required=True, help="comma-separated server ids; the first one is the canary")
    req.add_argument("--strategy", default="canary", choices=("canary", "all_at_once"))
    req.add_argument("--force", action="store_true", help="deploy even during a live game or outside the windows")
    req.add_argument("--deployment-id", help="id of the deployment (default: LEAGUE-VERSION-TIMESTAMP)")
    req.add_argument("--requested-by", default="cli")
    req.set_defaults(func=run_request)

    rb = sub.add_parser("rollback", help="roll a deployment back on every server that has it")
    rb.add_argument("--deployment-id", required=True)
    rb.add_argument("--reason", default=None, help="why (kept in the deployment's state)")
    rb.add_argument("--requested-by", default="cli")
    rb.set_defaults(func=run_rollback)

    st = sub.add_parser("status", help="show deployments (from the deployment-state topic)")
    st.add_argument("--deployment-id", help="only this deployment")
    st.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for more state records")
    st.set_defaults(func=run_status)

    mg = sub.add_parser("manager", help="run the deployment manager on Kafka (without the Faust worker)")
    add_metrics_port_argument(mg)
    mg.set_defaults(func=run_manager)


def _event(kind: str, deployment_id: str, **fields) -> dict:
    return {
        "event_id": uuid.uuid4().hex,
        "kind": kind,
        "deployment_id": deployment_id,
        "server_id": "*",
        "occurred_at": datetime.now(UTC),
        **fields,
    }


def _send(event: dict) -> None:
    from connectors.kafka.edge import EdgeProducer
    from streams.settings import get_settings

    with EdgeProducer(get_settings().bootstrap) as producer:
        producer.send("deployment-events", event, validate=True)


def run_request(args) -> int:
    from connectors.exceptions import InputError

    targets = list(dict.fromkeys(t.strip() for t in args.targets.split(",") if t.strip()))
    if not targets or "*" in targets:
        raise InputError("--targets needs at least one server id (comma-separated, no '*')")
    if not args.version.strip():
        raise InputError("--version must not be empty")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    deployment_id = args.deployment_id or re.sub(
        r"[^A-Za-z0-9._-]", "_", f"{args.league.lower()}-{args.version}-{stamp}"
    )
    event = _event(
        "request",
        deployment_id,
        league=args.league,
        version=args.version.strip(),
        targets=targets,
        strategy=args.strategy,
        force=args.force,
        requested_by=args.requested_by,
    )
    _send(event)
    canary = f"canary {targets[0]}" if args.strategy == "canary" else "all at once"
    forced = ", forced" if args.force else ""
    print(
        f"requested deployment {deployment_id}: {args.version} to {', '.join(targets)} ({args.league}, {canary}{forced})"
    )
    return 0


def run_rollback(args) -> int:
    _send(_event("rollback", args.deployment_id, requested_by=args.requested_by, detail=args.reason))
    print(f"requested rollback of deployment {args.deployment_id}")
    return 0


def run_status(args) -> int:
    from connectors.kafka.edge import consume_records
    from streams.settings import get_settings

    latest: dict[str, dict] = {}
    for _, state in consume_records(get_settings().bootstrap, "deployment-state", timeout=args.timeout):
        if args.deployment_id in (None, state["deployment_id"]):
            latest[state["deployment_id"]] = state
    if not latest:
        print("no deployments" if args.deployment_id is None else f"no deployment {args.deployment_id}")
        return 0 if args.deployment_id is None else 1
    for state in sorted(latest.values(), key=lambda s: s["requested_at"]):
        servers = " ".join(f"{s['server_id']}={s['status']}" for s in state["servers"])
        print(f"{state['deployment_id']}  {state['version']}  {state['phase']:<12} {servers}  {state['reason']}")
    return 0


def run_manager(args) -> int:
    from connectors.effectors.base import stop_on_signals
    from connectors.effectors.deployments.runner import DeploymentRunner
    from connectors.kafka.admin import create_topics
    from streams.deployments.manager import DeploymentPolicy
    from streams.settings import get_settings

    settings = get_settings()
    policy = DeploymentPolicy.from_settings(settings)
    create_topics(settings.bootstrap, replication_factor=settings.replication_factor)
    from connectors.observability.cli_options import observe_effector

    runner = DeploymentRunner(settings.bootstrap, policy, settings.data_dir / "deploy-manager.json")
    server = observe_effector(runner, args, settings, "deploy-manager")
    stop = stop_on_signals()
    windows = settings.deploy_windows or "always"
    try:
        runner.run(
            stop,
            on_ready=lambda: print(f"deploy manager ready on {settings.bootstrap} (windows: {windows})", flush=True),
        )
    finally:
        if server is not None:
            server.stop()
    print("deploy manager stopped", flush=True)
    return 0
