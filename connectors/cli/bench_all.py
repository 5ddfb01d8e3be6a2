"""``wirereport bench all``: every benchmark in turn, each printing its figures beside the raw client speed."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import connectors.cli as cli_package


def register(subparsers) -> None:
    p = subparsers.add_parser("all", help="run every benchmark in turn")
    p.set_defaults(func=run)


def targets() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(cli_package.__path__) if m.name.startswith("bench_")]
    return sorted(n.removeprefix("bench_") for n in names if n != "bench_all")


def run(args) -> int:
    failed = []
    for target in targets():
        print(f"\n== wirereport bench {target} ==", flush=True)
        code = subprocess.call([sys.executable, "-m", "connectors.cli.main", "bench", target])
        if code:
            failed.append(target)
    if failed:
        print(f"wirereport: error: benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
