"""The JSON form of records (what the CLI reads and writes): timestamps as ISO-8601 UTC, bytes as base64."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from schemas.codec import get_codec
from schemas.exceptions import EncodeError

Converter = Callable[[Any], Any]


def parse_timestamp(value: Any) -> datetime:
    """ISO-8601 text (``Z`` or offset; naive means UTC) or epoch milliseconds to an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise EncodeError(f"{value!r} is not an ISO-8601 timestamp") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise EncodeError(f"{value!r} is not a timestamp")


def format_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _is_timestamp(t: Any) -> bool:
    return isinstance(t, dict) and t.get("logicalType", "").startswith("timestamp")


def _converter(t: Any, to_json: bool) -> Converter | None:
    """A function converting one value of Avro type ``t``, or None when the value passes as is."""
    if _is_timestamp(t):
        return format_timestamp if to_json else parse_timestamp
    if t == "bytes":
        if to_json:
            return lambda v: base64.b64encode(v).decode("ascii")
        return lambda v: base64.b64decode(v) if isinstance(v, str) else v
    if isinstance(t, list):  # union: only ["null", X] is used in our schemas
        inner = [_converter(x, to_json) for x in t if x != "null"]
        conv = inner[0] if len(inner) == 1 else None
        return None if conv is None else (lambda v: None if v is None else conv(v))
    if isinstance(t, dict) and t.get("type") == "array":
        conv = _converter(t["items"], to_json)
        return None if conv is None else (lambda v: [conv(x) for x in v])
    return None


@cache
def _plan(name: str, to_json: bool) -> tuple[list[tuple[str, Converter]], list[tuple[str, Any]], set[str]]:
    fields = get_codec().registry.latest(name).raw["fields"]
    conversions = [(f["name"], c) for f in fields if (c := _converter(f["type"], to_json))]
    defaults = [(f["name"], f["default"]) for f in fields if "default" in f]
    required = {f["name"] for f in fields if "default" not in f}
    return conversions, defaults, required


def from_json(name: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Turn a JSON object into a record of schema ``name`` (fills defaults, parses timestamps)."""
    if not isinstance(obj, dict):
        raise EncodeError(f"expected a JSON object, got {type(obj).__name__}")
    conversions, defaults, required = _plan(name, False)
    missing = sorted(required - obj.keys())
    if missing:
        raise EncodeError(f"missing field(s): {', '.join(missing)}")
    record = dict(obj)
    for field, default in defaults:
        if field not in record:
            record[field] = copy.copy(default)
    for field, conv in conversions:
        try:
            record[field] = conv(record[field])
        except EncodeError as exc:
            raise EncodeError(f"{field}: {exc}") from None
        except (ValueError, TypeError) as exc:
            raise EncodeError(f"{field}: {exc}") from None
    return record


def to_json(name: str, record: dict[str, Any]) -> dict[str, Any]:
    """Turn a record of schema ``name`` into its JSON form."""
    conversions, _, _ = _plan(name, True)
    out = dict(record)
    for field, conv in conversions:
        if field in out:
            out[field] = conv(out[field])
    return out
