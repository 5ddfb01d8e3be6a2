"""Entry point of ``wirereport``: every command module is listed once, in ``COMMANDS``, and registers its subcommands.

Each module defines ``register(subparsers)`` and sets ``func`` (``args -> int | None``) on its parsers; a new
command is a new module added to ``COMMANDS`` (or to a group's members). Errors are printed as one readable line
with a non-zero exit; never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pydantic import ValidationError

from connectors.cli import (
    backtest_health,
    backtest_plays,
    backtest_scaling,
    bench_all,
    bench_api,
    bench_health,
    bench_plays,
    bench_scaling,
    bench_takeover,
    cmd_account,
    cmd_admin,
    cmd_agent,
    cmd_alert_router,
    cmd_api,
    cmd_auth,
    cmd_broker,
    cmd_deploy,
    cmd_deploy_agent,
    cmd_feed,
    cmd_feed_server,
    cmd_import,
    cmd_load,
    cmd_produce,
    cmd_publisher,
    cmd_replay,
    cmd_scaler,
    cmd_simulate,
    cmd_supervisor,
    cmd_train,
    cmd_tweets,
    cmd_up,
    cmd_watchdog,
    cmd_worker,
    report_plays,
    report_scaling,
)
from connectors.cli.groups import CommandGroup
from connectors.exceptions import ConnectorError

log = logging.getLogger("wirereport")

BENCHMARKS = CommandGroup(
    "bench",
    "measure hot paths next to the raw client speed",
    (bench_all, bench_api, bench_health, bench_plays, bench_scaling, bench_takeover),
)

# Every subcommand of ``wirereport``, in the order of its help.
COMMANDS = (
    cmd_account,
    cmd_admin,
    cmd_agent,
    cmd_alert_router,
    cmd_api,
    cmd_auth,
    CommandGroup(
        "backtest",
        "replay recorded input through the agents' exact code path, offline",
        (backtest_health, backtest_plays, backtest_scaling),
    ),
    BENCHMARKS,
    cmd_broker,
    cmd_deploy,
    cmd_deploy_agent,
    cmd_feed,
    cmd_feed_server,
    cmd_import,
    cmd_load,
    cmd_produce,
    cmd_publisher,
    cmd_replay,
    CommandGroup("report", "render evaluations with plots to a folder", (report_plays, report_scaling)),
    cmd_scaler,
    cmd_simulate,
    cmd_supervisor,
    cmd_train,
    cmd_tweets,
    cmd_up,
    cmd_watchdog,
    cmd_worker,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wirereport",
        description="Wire Report: sports-content accounts on autopilot, on Kafka.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def _settings_problem(exc: ValidationError) -> str:
    """One line naming each bad environment variable, what is wrong, and the value given."""
    problems = []
    for error in exc.errors():
        name = "WIREREPORT_" + "_".join(str(part) for part in error["loc"]).upper()
        problems.append(f"{name}: {error['msg']} (got {error.get('input')!r})")
    return "bad setting " + "; ".join(problems)


def main(argv: list[str] | None = None) -> int:
    from connectors.effectors.tweets.accounts import account_secrets
    from connectors.log_redaction import configure_logging, secret_values
    from schemas.exceptions import SchemaError
    from streams.exceptions import StreamsError
    from streams.settings import get_settings

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        settings = get_settings()
    except ValidationError as exc:  # a bad setting in the environment
        print(f"wirereport: error: {_settings_problem(exc)}", file=sys.stderr)
        return 2
    try:
        configure_logging(
            "DEBUG" if args.verbose else settings.log_level, secret_values(settings) + account_secrets(settings)
        )
        code = args.func(args)
    except KeyboardInterrupt:
        return 130
    except (ConnectorError, StreamsError, SchemaError) as exc:
        print(f"wirereport: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except (OSError, ValueError) as exc:
        print(f"wirereport: error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the last net: one line, and the details in the debug log
        log.debug("unexpected error", exc_info=True)
        print(
            f"wirereport: error: unexpected {exc.__class__.__name__}: {exc} (run with -v for details)", file=sys.stderr
        )
        return 1
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
