"""The command registry: every command module of the package is listed once, and the groups keep their targets."""

from __future__ import annotations

from pathlib import Path

import connectors.cli as cli_package
from connectors.cli import bench_all
from connectors.cli.groups import CommandGroup
from connectors.cli.main import COMMANDS, build_parser

NOT_COMMANDS = {"__init__", "main", "groups"}


def _listed_modules() -> list[str]:
    names = []
    for command in COMMANDS:
        members = command.members if isinstance(command, CommandGroup) else (command,)
        names += [module.__name__.removeprefix("connectors.cli.") for module in members]
    return names


def test_every_command_module_is_listed_once():
    """A module added to connectors/cli but not to the registry would silently not be a command."""
    on_disk = {path.stem for path in Path(cli_package.__file__).parent.glob("*.py")} - NOT_COMMANDS
    listed = _listed_modules()
    assert sorted(listed) == sorted(on_disk)
    assert len(listed) == len(set(listed))


def test_groups_register_their_targets_in_order():
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices
    assert list(subcommands["backtest"]._subparsers._group_actions[0].choices) == ["health", "plays", "scaling"]
    assert list(subcommands["report"]._subparsers._group_actions[0].choices) == ["plays", "scaling"]
    assert list(subcommands["bench"]._subparsers._group_actions[0].choices) == [
        "all", "api", "health", "plays", "scaling", "takeover"
    ]  # fmt: skip
    assert {"produce", "consume", "topics", "worker", "up"} <= set(subcommands)


def test_bench_all_runs_every_other_benchmark():
    assert bench_all.targets() == ["api", "health", "plays", "scaling", "takeover"]


def test_a_group_without_target_prints_its_help(capsys):
    args = build_parser().parse_args(["backtest"])
    assert args.func(args) == 2
    assert "TARGET" in capsys.readouterr().out
