"""Avro single-object encoding (``C3 01`` + CRC-64-AVRO fingerprint + binary body) with fastavro.

Writers always use the latest version of a schema; readers resolve any released writer version to the
latest reader version, so old producers keep working after a schema evolves.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.validation import validate

from schemas.exceptions import DecodeError, EncodeError
from schemas.registry import SchemaRegistry, SchemaVersion

MAGIC = b"\xc3\x01"
HEADER_SIZE = 10


class Codec:
    """Encodes and decodes records of the registry's schemas."""

    def __init__(self, registry: SchemaRegistry | None = None):
        self.registry = registry or SchemaRegistry.load()

    def encode(self, name: str, record: dict[str, Any], *, validate_first: bool = False) -> bytes:
        """Encode ``record`` with the latest version of schema ``name``."""
        schema = self.registry.latest(name)
        if validate_first:
            self.validate(name, record)
        buf = BytesIO()
        buf.write(MAGIC)
        buf.write(schema.fingerprint)
        try:
            schemaless_writer(buf, schema.parsed, record)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
            raise EncodeError(f"record does not match schema {name}: {exc}") from exc
        return buf.getvalue()

    def validate(self, name: str, record: dict[str, Any]) -> None:
        """Raise ``EncodeError`` with a readable reason if ``record`` does not conform to ``name``."""
        schema = self.registry.latest(name)
        try:
            validate(record, schema.parsed, raise_errors=True, strict=True)
        except Exception as exc:  # fastavro raises ValidationError with the failing fields
            raise EncodeError(_validation_reason(exc)) from exc

    def writer_of(self, data: bytes) -> SchemaVersion:
        """The schema version that wrote ``data`` (raises ``DecodeError`` if unknown)."""
        if len(data) < HEADER_SIZE or data[:2] != MAGIC:
            raise DecodeError("not an Avro single-object encoded message (bad magic bytes)")
        writer = self.registry.by_fingerprint(data[2:HEADER_SIZE])
        if writer is None:
            raise DecodeError(f"unknown schema fingerprint {data[2:HEADER_SIZE].hex()}")
        return writer

    def decode(self, data: bytes, expected: Iterable[str] | None = None) -> tuple[str, dict[str, Any]]:
        """Decode ``data``; return ``(schema name, record)`` resolved to the latest reader version."""
        if data is None:
            raise DecodeError("empty message (null value)")
        writer = self.writer_of(data)
        if expected is not None and writer.name not in expected:
            raise DecodeError(f"schema {writer.name} is not allowed here (expected {', '.join(expected)})")
        reader = self.registry.latest(writer.name)
        try:
            record = schemaless_reader(
                BytesIO(data[HEADER_SIZE:]),
                writer.parsed,
                None if reader is writer else reader.parsed,
            )
        except Exception as exc:  # truncated or corrupt body
            raise DecodeError(f"corrupt {writer.name} body: {exc.__class__.__name__}: {exc}") from exc
        return writer.name, record


def _validation_reason(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        return "; ".join(str(e) for e in errors)[:500]
    return str(exc)[:500]


@lru_cache(maxsize=1)
def get_codec() -> Codec:
    """The process-wide codec (schemas are parsed once)."""
    return Codec()
