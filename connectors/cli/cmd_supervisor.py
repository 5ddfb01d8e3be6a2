"""``wirereport supervisor --server-id ID -- CMD...``: run a league-server process and carry out remediation."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "supervisor", help="supervise a league-server process; restart it on remediation commands"
    )
    p.add_argument("--server-id", required=True, help="the server whose remediation commands to carry out")
    p.add_argument(
        "--process-name", help="name of the supervised process (default WIREREPORT_REMEDIATION_PROCESS_NAME)"
    )
    p.add_argument("--stop-timeout", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL")
    p.add_argument("--max-age", type=float, default=600.0, help="skip commands older than this (s) when first seen")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    p.set_defaults(func=run)


def run(args) -> int:
    import re
    import signal
    import threading
    from pathlib import Path

    from connectors.supervisor import Supervisor
    from streams.settings import get_settings

    s = get_settings()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", args.server_id)
    sup = Supervisor(
        s.bootstrap,
        args.server_id,
        cmd,
        Path(s.data_dir) / f"supervisor-{safe}.json",
        process_name=args.process_name or s.remediation_process_name,
        stop_timeout=args.stop_timeout,
        max_age=args.max_age,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sup.run(stop)
    print(f"supervisor stopped ({sup.restarts} restart(s))", flush=True)
    return 0
