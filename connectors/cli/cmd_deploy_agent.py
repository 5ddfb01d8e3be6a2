"""``wirereport deploy-agent``: apply this server's deployment decisions to a git working copy."""

from __future__ import annotations

from pathlib import Path

from connectors.observability.cli_options import add_metrics_port_argument


def register(subparsers) -> None:
    p = subparsers.add_parser("deploy-agent", help="apply deployment decisions for one server (git checkout + restart)")
    p.add_argument("--server-id", required=True, help="this league server's id")
    p.add_argument("--repo", required=True, type=Path, help="git working copy to deploy into")
    p.add_argument(
        "--restart-cmd",
        default=None,
        help="shell command run after a checkout (default: WIREREPORT_DEPLOY_RESTART_CMD)",
    )
    add_metrics_port_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from connectors.effectors.base import stop_on_signals
    from connectors.effectors.deployments.agent import DeploymentAgent
    from connectors.effectors.deployments.git_executor import GitExecutor
    from streams.settings import get_settings

    settings = get_settings()
    executor = GitExecutor(
        args.repo, args.restart_cmd or settings.deploy_restart_cmd, timeout=settings.deploy_command_timeout_seconds
    )
    state_path = settings.data_dir / f"deploy-agent-{args.server_id}.json"
    agent = DeploymentAgent(
        settings.bootstrap,
        args.server_id,
        executor,
        state_path,
        backlog_seconds=settings.deploy_agent_backlog_seconds,
    )
    stop = stop_on_signals()
    ready = f"deploy agent ready: server {args.server_id}, repo {executor.repo}, at {executor.current_version()}"
    from connectors.observability.cli_options import observe_effector

    server = observe_effector(agent, args, settings, "deploy-agent")
    try:
        agent.run(stop, on_ready=lambda: print(ready, flush=True))
    finally:
        if server is not None:
            server.stop()
    print(f"deploy agent {args.server_id} stopped", flush=True)
    return 0
