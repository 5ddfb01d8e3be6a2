"""``wirereport report TARGET``: render evaluations with plots to a folder."""

from connectors.cli.groups import register_group


def register(subparsers) -> None:
    register_group(subparsers, "report", "render evaluations with plots to a folder")
