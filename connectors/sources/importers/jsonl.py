"""Reading and writing JSON lines files (plain or gzip), stdout when no path is given."""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from connectors.exceptions import InputError


def write_jsonl(path: str | Path | None, records: Iterable[dict[str, Any]]) -> int:
    """Write one compact JSON object per line; ``.gz`` paths are gzip-compressed (reproducibly, mtime 0)."""
    count = 0
    if path is None or str(path) == "-":
        out = sys.stdout
        for rec in records:
            out.write(json.dumps(rec, separators=(",", ":")) + "\n")
            count += 1
        out.flush()
        return count
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".gz":
        with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            for rec in records:
                gz.write((json.dumps(rec, separators=(",", ":")) + "\n").encode())
                count += 1
        return count
    with open(target, "w") as fh:
        for rec in records:
            fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
            count += 1
    return count


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object raises InputError."""
    target = Path(path)
    if not target.exists():
        raise InputError(f"{target}: no such file")
    opener = gzip.open if target.suffix == ".gz" else open
    with opener(target, "rt") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{target}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise InputError(f"{target}:{number}: expected a JSON object")
            yield number, obj
