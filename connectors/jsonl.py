"""Reading and writing JSON-lines files (plain or gzip, ``-`` for stdin/stdout), with line numbers for error reports.

The one JSON-lines module of the project: the backtests, the importers, the replay and the load tools all read and
write through it, so every file the project writes has the same form (compact, UTF-8, one value a line).
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from connectors.exceptions import InputError


def open_text(path: str | Path, mode: str = "r") -> IO[str]:
    """Open ``path`` as text; ``.gz`` is (de)compressed; ``-`` is stdin/stdout."""
    if str(path) == "-":
        return sys.stdin if "r" in mode else sys.stdout
    path = Path(path)
    try:
        if path.suffix == ".gz":
            # mtime 0: the same records always give the same bytes (reproducible outputs and sample files)
            binary = gzip.GzipFile(path, mode.replace("t", "") + "b", mtime=0)
            return io.TextIOWrapper(binary, encoding="utf-8")
        return open(path, mode, encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None


def read_jsonl(path: str | Path) -> Iterator[tuple[int, Any | Exception]]:
    """Yield ``(line number, parsed object or the JSON error)`` for each non-blank line."""
    with open_text(path) as fh:
        try:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, ValueError(f"not valid JSON: {exc.msg} at column {exc.colno}")
        except (gzip.BadGzipFile, EOFError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read: {exc}") from None


def write_jsonl(target: str | Path | IO[str] | None, records: Iterable[Any]) -> int:
    """Write each of ``records`` as one compact JSON line; return how many were written.

    ``target`` is an open text handle (written to, left open), or a path: ``None`` or ``-`` is stdout (flushed,
    left open), ``.gz`` is gzip-compressed, and missing parent folders are created.
    """
    if target is None or str(target) == "-":
        count = _write_lines(sys.stdout, records)
        sys.stdout.flush()
        return count
    if not isinstance(target, str | Path):
        return _write_lines(target, records)
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    with open_text(target, "w") as fh:
        return _write_lines(fh, records)


def _write_lines(fh: IO[str], records: Iterable[Any]) -> int:
    count = 0
    for record in records:
        fh.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
        fh.write("\n")
        count += 1
    return count
