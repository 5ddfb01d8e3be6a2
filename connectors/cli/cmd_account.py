"""``wirereport account pause|resume ACCOUNT``: hold every tweet of an X account, or post them again."""

from __future__ import annotations

from connectors.cli.cmd_tweets import add_requested_by, send_control


def register(subparsers) -> None:
    p = subparsers.add_parser("account", help="pause or resume an X account's tweets")
    sub = p.add_subparsers(dest="account_command", metavar="ACTION")
    pause = sub.add_parser("pause", help="hold every queued and new tweet of the account until it is resumed")
    resume = sub.add_parser("resume", help="queue the account's held tweets again (within its rolling limit)")
    for parser in (pause, resume):
        parser.add_argument("account", help="the X account, e.g. NFL")
        parser.add_argument("--reason", default="", help="why (kept with the control)")
        add_requested_by(parser)
    pause.set_defaults(func=lambda args: run_control("pause", args))
    resume.set_defaults(func=lambda args: run_control("resume", args))
    p.set_defaults(func=lambda args: p.print_help() or 2)


def run_control(action: str, args) -> int:
    from streams.settings import get_settings

    send_control(get_settings().bootstrap, action, args.account, args)
    return 0
