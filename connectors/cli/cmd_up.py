"""``wirereport up``: broker, topics, worker, API and a replay of real data (or a local live feed) as one supervised
group."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("up", help="run everything locally: broker, worker, API, and a replay (Ctrl-C stops all)")
    p.add_argument("--replay", default="demo", help="'demo' (bundled NFL Sunday), 'none', or a plays JSON-lines file")
    p.add_argument("--schedule", help="schedule JSON-lines file for --replay FILE (league-events)")
    p.add_argument(
        "--feed",
        choices=["nfl"],
        help="instead of the file replay, follow a local live feed (nfl: the recorded 2018 week 1 Sunday, served "
        "progressively at --speed by 'wirereport feed-server' and polled by 'wirereport feed nfl')",
    )
    p.add_argument("--speed", type=float, default=240.0, help="replay time compression (default 240x)")
    p.add_argument("--no-api", action="store_true", help="do not start the API")
    p.add_argument("--no-scaling", action="store_true", help="do not replay a load trace through a metrics agent")
    p.add_argument(
        "--log-level", default="warning", help="log level of the processes (default warning; info is chatty)"
    )
    p.add_argument("--quiet", action="store_true", help="only the live view and errors, not the processes' logs")
    p.set_defaults(func=run)


def run(args) -> int:
    from connectors.local.up import run_up

    return run_up(args)
