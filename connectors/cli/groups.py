"""Subcommand groups whose members live in their own modules (``backtest_*``, ``report_*``, ``bench_*``).

A domain adds e.g. ``connectors/cli/backtest_plays.py`` with ``register(subparsers)`` and it appears as
``wirereport backtest plays``.
"""

from __future__ import annotations

import importlib
import pkgutil

import connectors.cli as cli_package


def register_group(subparsers, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(name, help=help_text)
    members = parser.add_subparsers(dest=f"{name}_target", metavar="TARGET")
    for info in sorted(pkgutil.iter_modules(cli_package.__path__), key=lambda m: m.name):
        if info.name.startswith(f"{name}_"):
            importlib.import_module(f"connectors.cli.{info.name}").register(members)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)
