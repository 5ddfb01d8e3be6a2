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

_UNCOMPILED = object()
MAGIC = b"\xc3\x01"
HEADER_SIZE = 10


class Codec:
    """Encodes and decodes records of the registry's schemas."""

    def __init__(self, registry: SchemaRegistry | None = None):
        self.registry = registry or SchemaRegistry.load()
        self._fast_readers: dict[bytes, RecordReader | None] = {}  # by writer fingerprint
        self._fast_by_header: dict[bytes, tuple[str | None, RecordReader | None]] = {}

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
        fast = self._fast_reader(writer)
        if fast is not None:
            try:
                record, end = fast(data, HEADER_SIZE)
                if end == len(data):
                    return writer.name, record
            except Exception:  # fastavro, below, decides what this body is and says why
                pass
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

    def decode_many(
        self, values: Sequence[bytes | None], expected: Iterable[str] | None = None
    ) -> list[tuple[str, dict[str, Any]] | DecodeError]:
        """Decode a batch: for each value, in order, ``(schema name, record)`` or the ``DecodeError`` :meth:`decode`
        raises for it. The common case (a known latest-version writer, a well-formed body) is read inline."""
        out: list[tuple[str, dict[str, Any]] | DecodeError] = []
        append = out.append
        fast_by_header = self._fast_by_header
        for data in values:
            if data is not None and data[:2] == MAGIC:
                known = fast_by_header.get(data[2:HEADER_SIZE])
                if known is None:
                    known = self._learn_header(data[2:HEADER_SIZE])
                name, fast = known
                if fast is not None and (expected is None or name in expected):
                    try:
                        record, end = fast(data, HEADER_SIZE)
                        if end == len(data):
                            append((name, record))
                            continue
                    except Exception:  # decode() below gives this value its answer
                        pass
            try:
                append(self.decode(data, expected))
            except DecodeError as exc:
                append(exc)
        return out

    def _fast_reader(self, writer: SchemaVersion) -> RecordReader | None:
        """The generated reader of ``writer``'s bodies, if it is the latest version (no resolution needed)."""
        fast = self._fast_readers.get(writer.fingerprint, _UNCOMPILED)
        if fast is _UNCOMPILED:
            latest = self.registry.latest(writer.name) is writer
            fast = self._fast_readers[writer.fingerprint] = compile_reader(writer.raw) if latest else None
        return fast

    def _learn_header(self, fingerprint: bytes) -> tuple[str | None, RecordReader | None]:
        writer = self.registry.by_fingerprint(fingerprint)
        known = (None, None) if writer is None else (writer.name, self._fast_reader(writer))
        if len(self._fast_by_header) < 1024:  # bounded: garbage headers must not grow it
            self._fast_by_header[fingerprint] = known
        return known


def _validation_reason(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        return "; ".join(str(e) for e in errors)[:500]
    return str(exc)[:500]


@lru_cache(maxsize=1)
def get_codec() -> Codec:
    """The process-wide codec (schemas are parsed once)."""
    return Codec()
