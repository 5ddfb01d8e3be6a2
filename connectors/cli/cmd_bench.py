"""``wirereport bench TARGET``: measure hot paths next to the raw client speed."""

from connectors.cli.groups import register_group


def register(subparsers) -> None:
    register_group(subparsers, "bench", "measure hot paths next to the raw client speed")
