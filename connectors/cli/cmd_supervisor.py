"""``wirereport supervisor --server-id ID -- CMD...``: run a league-server process and carry out remediation
(restart_process, shed_load, request_scale_up, escalate)."""

from __future__ import annotations

import argparse

from connectors.observability.cli_options import add_metrics_port_argument


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "supervisor", help="supervise a league-server process; carry out its remediation commands"
    )
    p.add_argument("--server-id", required=True, help="the server whose remediation commands to carry out")
    p.add_argument(
        "--process-name", help="name of the supervised process (default WIREREPORT_REMEDIATION_PROCESS_NAME)"
    )
    p.add_argument("--stop-timeout", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL")
    p.add_argument("--max-age", type=float, default=600.0, help="skip commands older than this (s) when first seen")
    p.add_argument(
        "--shed-load-signal",
        help="signal sent to the child on shed_load (default WIREREPORT_SUPERVISOR_SHED_LOAD_SIGNAL)",
    )
    p.add_argument("--shed-load-cmd", help="command run on shed_load instead of a signal (a shell-quoted string)")
    p.add_argument("--league", help="league of this server, for scale-up requests whose command has none")
    p.add_argument("--scale-up-multiplier", type=float, help="load multiplier of a scale-up request (default 1.5)")
    p.add_argument("--scale-up-duration", type=int, help="seconds a scale-up request lasts (default 900)")
    add_metrics_port_argument(p)
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    p.set_defaults(func=run)


def run(args) -> int:
    import re
    import shlex
    import signal
    from pathlib import Path

    from connectors.effectors.base import stop_on_signals
    from connectors.effectors.remediation.supervisor import Supervisor
    from connectors.exceptions import InputError
    from streams.settings import get_settings

    s = get_settings()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", args.server_id)
    sig_name = (args.shed_load_signal or s.supervisor_shed_load_signal).strip().upper()
    try:
        shed_signal = (
            int(sig_name)
            if sig_name.isdigit()
            else signal.Signals[sig_name if sig_name.startswith("SIG") else f"SIG{sig_name}"]
        )
        shed_signal = signal.Signals(shed_signal)
    except (KeyError, ValueError):
        raise InputError(f"unknown signal {sig_name!r} for --shed-load-signal (e.g. SIGUSR1, SIGUSR2)") from None
    shed_cmd = args.shed_load_cmd or s.supervisor_shed_load_cmd
    try:
        shed_command = shlex.split(shed_cmd) if shed_cmd else None
    except ValueError as exc:
        raise InputError(f"cannot parse --shed-load-cmd: {exc}") from None
    league = (args.league or s.supervisor_league or "").upper() or None
    if league is not None and league not in ("NFL", "NBA", "WNBA"):
        raise InputError(f"unknown league {league!r} for --league (NFL, NBA or WNBA)")
    multiplier = args.scale_up_multiplier or s.remediation_scale_up_multiplier
    duration = args.scale_up_duration or s.remediation_scale_up_duration_seconds
    if multiplier <= 0 or duration <= 0:
        raise InputError("--scale-up-multiplier and --scale-up-duration must be positive")
    sup = Supervisor(
        s.bootstrap,
        args.server_id,
        cmd,
        Path(s.data_dir) / f"supervisor-{safe}.json",
        process_name=args.process_name or s.remediation_process_name,
        stop_timeout=args.stop_timeout,
        max_age=args.max_age,
        shed_signal=shed_signal,
        shed_command=shed_command,
        league=league,
        scale_up_multiplier=multiplier,
        scale_up_duration=duration,
    )
    from connectors.observability.cli_options import observe_effector

    server = observe_effector(sup, args, s, "supervisor")
    try:
        sup.run(stop_on_signals())
    finally:
        if server is not None:
            server.stop()
    print(f"supervisor stopped ({sup.restarts} restart(s))", flush=True)
    return 0
