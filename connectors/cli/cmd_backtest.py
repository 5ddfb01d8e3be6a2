"""``wirereport backtest TARGET``: replay recorded input through the agents' exact code path, offline."""

from connectors.cli.groups import register_group


def register(subparsers) -> None:
    register_group(subparsers, "backtest", "replay recorded input through the agents' exact code path, offline")
