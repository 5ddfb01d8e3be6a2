"""``wirereport alert-router``: route ``alerts`` to the Slack-compatible webhook (grouping, inhibition, silences)."""

from __future__ import annotations

from connectors.observability.cli_options import add_metrics_port_argument


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "alert-router", help="group, inhibit and silence alerts and deliver them to WIREREPORT_SLACK_WEBHOOK_URL"
    )
    p.add_argument("--group-wait", type=float, help="seconds (default WIREREPORT_ALERT_GROUP_WAIT_SECONDS, 30)")
    p.add_argument("--group-interval", type=float, help="seconds (default 300)")
    p.add_argument("--repeat-interval", type=float, help="seconds (default 14400)")
    p.add_argument("--outbox", help="SQLite outbox file (default DATA_DIR/alert-router.sqlite3)")
    add_metrics_port_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import dataclasses
    from pathlib import Path

    from connectors.circuit_breaker import BreakerConfig
    from connectors.effectors.alerts import AlertRouter
    from connectors.effectors.base import stop_on_signals
    from connectors.exceptions import InputError
    from streams.health.alert_grouping import GroupingConfig
    from streams.settings import get_settings

    s = get_settings()
    if s.slack_webhook_url is None or not s.slack_webhook_url.get_secret_value():
        raise InputError("no webhook: set WIREREPORT_SLACK_WEBHOOK_URL to a Slack-compatible incoming webhook URL")
    grouping = GroupingConfig.from_settings(s)
    overrides = {
        k: v
        for k, v in (
            ("group_wait", args.group_wait),
            ("group_interval", args.group_interval),
            ("repeat_interval", args.repeat_interval),
        )
        if v is not None
    }
    grouping = dataclasses.replace(grouping, **overrides)
    router = AlertRouter(
        s.bootstrap,
        s.slack_webhook_url.get_secret_value(),
        Path(args.outbox) if args.outbox else Path(s.data_dir) / "alert-router.sqlite3",
        grouping,
        BreakerConfig.from_settings(s),
        retry_initial=s.alert_retry_initial_seconds,
        retry_max=s.alert_retry_max_seconds,
        timeout=s.alert_webhook_timeout_seconds,
    )
    from connectors.observability.cli_options import observe_effector

    server = observe_effector(router, args, s, "alert-router")
    if server is not None:
        router.observer.watch_breaker(router.breaker)
    try:
        router.run(stop_on_signals())
    finally:
        if server is not None:
            server.stop()
    print("alert router stopped", flush=True)
    return 0
