"""Reading and writing JSON-lines files (plain or gzip), with line numbers for error reports."""

from __future__ import annotations

import gzip
import io
import json
import sys
from collections.abc import Iterator
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
            return io.TextIOWrapper(gzip.open(path, mode.replace("t", "") + "b"), encoding="utf-8")
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


def write_jsonl(fh: IO[str], obj: Any) -> None:
    fh.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))
    fh.write("\n")
