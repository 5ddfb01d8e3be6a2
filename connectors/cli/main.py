"""Entry point of ``wirereport``: finds every ``cmd_*`` module and lets it register its subcommands.

Each module defines ``register(subparsers)`` and sets ``func`` (``args -> int | None``) on its parsers.
Errors are printed as one readable line with a non-zero exit; never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from pydantic import ValidationError

import connectors.cli as cli_package
from connectors.exceptions import ConnectorError

log = logging.getLogger("wirereport")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wirereport",
        description="Wire Report: sports-content accounts on autopilot, on Kafka.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(cli_package.__path__), key=lambda m: m.name):
        if module_info.name.startswith("cmd_"):
            module = importlib.import_module(f"connectors.cli.{module_info.name}")
            module.register(subparsers)
    return parser


def _settings_problem(exc: ValidationError) -> str:
    """One line naming each bad environment variable, what is wrong, and the value given."""
    problems = []
    for error in exc.errors():
        name = "WIREREPORT_" + "_".join(str(part) for part in error["loc"]).upper()
        problems.append(f"{name}: {error['msg']} (got {error.get('input')!r})")
    return "bad setting " + "; ".join(problems)


def main(argv: list[str] | None = None) -> int:
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
        configure_logging("DEBUG" if args.verbose else settings.log_level, secret_values(settings))
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
