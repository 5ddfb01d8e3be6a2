"""``wirereport watchdog``: alerts for consumer groups lagging and processes not ready (see
:mod:`connectors.effectors.alerts.watchdog`)."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("watchdog", help="alert when a consumer group lags or a process's /ready fails")
    p.add_argument(
        "--group",
        action="append",
        default=[],
        help="a consumer group to watch (repeat; e.g. wirereport, wirereport-alert-router)",
    )
    p.add_argument("--ready", action="append", default=[], help="a /ready URL to probe (repeat)")
    p.add_argument("--max-lag", type=int, default=10000, help="messages behind before ConsumerLag fires")
    p.add_argument("--interval", type=float, default=30.0, help="seconds between rounds")
    p.set_defaults(func=run)


def run(args) -> int:
    from connectors.effectors.alerts.watchdog import Watchdog
    from connectors.effectors.base import stop_on_signals
    from connectors.exceptions import InputError
    from streams.settings import get_settings

    if not args.group and not args.ready:
        raise InputError("nothing to watch: give --group and/or --ready")
    watchdog = Watchdog(get_settings().bootstrap, args.group, args.ready, args.max_lag)
    watchdog.run(stop_on_signals(), args.interval)
    return 0
