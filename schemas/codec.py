"""Avro single-object encoding (``C3 01`` + CRC-64-AVRO fingerprint + binary body) with fastavro.

Writers always use the latest version of a schema; readers resolve any released writer version to the
latest reader version, so old producers keep working after a schema evolves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.validation import validate

from schemas.exceptions import DecodeError, EncodeError
from schemas.record_readers import RecordReader, compile_reader
from schemas.registry import SchemaRegistry, SchemaVersion

MAGIC = b"\xc3\x01"
HEADER_SIZE = 10


class Codec:
    """Encodes and decodes records of the registry's schemas."""

    def __init__(self, registry: SchemaRegistry | None = None):
        self.registry = registry or SchemaRegistry.load()
        self._readers: dict[bytes, tuple[SchemaVersion, RecordReader | None]] = {}  # by writer fingerprint

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
        _, fast = self._readers_of(writer.fingerprint)
        record = None if fast is None else _read_whole(fast, data)
        return writer.name, self._read_with_fastavro(writer, data) if record is None else record

    def decode_many(
        self, values: Sequence[bytes | None], expected: Iterable[str] | None = None
    ) -> list[tuple[str, dict[str, Any]] | DecodeError]:
        """Decode a batch: for each value, in order, ``(schema name, record)`` or the ``DecodeError`` :meth:`decode`
        raises for it. The common case (a known latest-version writer, a well-formed body) is read inline."""
        out: list[tuple[str, dict[str, Any]] | DecodeError] = []
        append = out.append
        readers = self._readers
        for data in values:
            if data is not None and data[:2] == MAGIC:
                fingerprint = data[2:HEADER_SIZE]
                known = readers.get(fingerprint) or self._readers_of(fingerprint)
                if known is not None and known[1] is not None and (expected is None or known[0].name in expected):
                    writer, fast = known
                    record = _read_whole(fast, data)
                    try:
                        append((writer.name, self._read_with_fastavro(writer, data) if record is None else record))
                    except DecodeError as exc:
                        append(exc)
                    continue
            try:  # not a well-formed header, an unknown or unexpected schema, or an old version: decode() says
                append(self.decode(data, expected))
            except DecodeError as exc:
                append(exc)
        return out

    def _readers_of(self, fingerprint: bytes) -> tuple[SchemaVersion, RecordReader | None] | None:
        """The writer schema of a fingerprint and, if it is the latest version of its schema (no resolution),
        the reader generated for its bodies; None for an unknown fingerprint. Generated on first use."""
        known = self._readers.get(fingerprint)
        if known is None:
            writer = self.registry.by_fingerprint(fingerprint)
            if writer is None:
                return None
            latest = self.registry.latest(writer.name) is writer
            known = self._readers[fingerprint] = (writer, compile_reader(writer.raw) if latest else None)
        return known

    def _read_with_fastavro(self, writer: SchemaVersion, data: bytes) -> dict[str, Any]:
        """The body read by fastavro, resolved to the latest reader version: the reference for every body."""
        reader = self.registry.latest(writer.name)
        try:
            return schemaless_reader(
                BytesIO(data[HEADER_SIZE:]),
                writer.parsed,
                None if reader is writer else reader.parsed,
            )
        except Exception as exc:  # truncated or corrupt body
            raise DecodeError(f"corrupt {writer.name} body: {exc.__class__.__name__}: {exc}") from exc


def _read_whole(fast: RecordReader, data: bytes) -> dict[str, Any] | None:
    """The record if the generated reader reads exactly the whole body; None leaves the body to fastavro, which
    decides what it is and says why."""
    try:
        record, end = fast(data, HEADER_SIZE)
    except Exception:
        return None
    return record if end == len(data) else None


def _validation_reason(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        return "; ".join(str(e) for e in errors)[:500]
    return str(exc)[:500]


@lru_cache(maxsize=1)
def get_codec() -> Codec:
    """The process-wide codec (schemas are parsed once)."""
    return Codec()
