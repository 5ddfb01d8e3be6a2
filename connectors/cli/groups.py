"""Subcommand groups whose members live in their own modules (``backtest_*``, ``report_*``, ``bench_*``).

A group is listed in ``connectors.cli.main.COMMANDS`` with its member modules; a domain adds e.g.
``connectors/cli/backtest_plays.py`` with ``register(subparsers)`` and lists it in the group there, and it appears
as ``wirereport backtest plays``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class CommandGroup:
    """``wirereport <name> TARGET``: one subcommand whose targets are registered by ``members``, in that order."""

    name: str
    help_text: str
    members: Sequence[ModuleType]

    def register(self, subparsers) -> None:
        parser = subparsers.add_parser(self.name, help=self.help_text)
        targets = parser.add_subparsers(dest=f"{self.name}_target", metavar="TARGET")
        for module in self.members:
            module.register(targets)
        parser.set_defaults(func=lambda args: parser.print_help() or 2)
