"""``wirereport bench all``: every benchmark in turn, each printing its figures beside the raw client speed."""

from __future__ import annotations

import subprocess
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("all", help="run every benchmark in turn")
    p.set_defaults(func=run)


def targets() -> list[str]:
    """The other members of ``wirereport bench``, as listed in the command registry."""
    # Imported here: the registry lists this module, so importing it at the top would be circular.
    from connectors.cli.main import BENCHMARKS

    names = [module.__name__.rpartition(".")[2] for module in BENCHMARKS.members if module.__name__ != __name__]
    return [name.removeprefix("bench_") for name in names]


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
