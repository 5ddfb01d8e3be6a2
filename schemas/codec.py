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
from schemas.registry import SchemaRegistry, SchemaVersion

try:  # fastavro's compiled record reader: reads one record from a stream without re-parsing its schema per call
    from fastavro._read import _default_named_schemas
    from fastavro._read import parse_schema as _named_parse
    from fastavro._read import read_record as _read_record
except ImportError:  # pragma: no cover - a fastavro without its C extension: decode_many reads record by record
    _read_record = None

_READ_OPTIONS = {
    "return_record_name": False,
    "return_record_name_override": False,
    "handle_unicode_errors": "strict",
    "return_named_type": False,
    "return_named_type_override": False,
}

MAGIC = b"\xc3\x01"
HEADER_SIZE = 10


class Codec:
    """Encodes and decodes records of the registry's schemas."""

    def __init__(self, registry: SchemaRegistry | None = None):
        self.registry = registry or SchemaRegistry.load()
        self._compiled_readers: dict[bytes, tuple[Any, Any]] = {}

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

    def decode_many(
        self, values: Sequence[bytes | None], expected: Iterable[str] | None = None
    ) -> list[tuple[str, dict[str, Any]] | DecodeError]:
        """Decode a batch: for each value, in order, ``(schema name, record)`` or the ``DecodeError`` :meth:`decode`
        would raise for it.

        Same results as :meth:`decode` per value, with less work per record: the bodies of consecutive values of
        one writer schema (that needs no resolution) are read from one buffer by fastavro's compiled reader, with
        the schema parsed once. A run whose records do not end exactly where their values end (corrupt or
        trailing bytes) is decoded again value by value, so every bad value gets its own error.
        """
        out: list[tuple[str, dict[str, Any]] | DecodeError] = [None] * len(values)  # type: ignore[list-item]
        run: list[int] = []
        run_writer: SchemaVersion | None = None
        for i, data in enumerate(values):
            try:
                if data is None:
                    raise DecodeError("empty message (null value)")
                writer = self.writer_of(data)
                if expected is not None and writer.name not in expected:
                    raise DecodeError(f"schema {writer.name} is not allowed here (expected {', '.join(expected)})")
            except DecodeError as exc:
                out[i] = exc
                continue
            if writer is not run_writer:
                self._decode_run(values, run, run_writer, out)
                run, run_writer = [], writer
            run.append(i)
        self._decode_run(values, run, run_writer, out)
        return out

    def _decode_run(self, values, run: list[int], writer: SchemaVersion | None, out: list) -> None:
        """Decode the values at indexes ``run`` (all written with ``writer``) into ``out``."""
        if not run:
            return
        reader = self.registry.latest(writer.name)
        if _read_record is not None and reader is writer and len(run) > 1:
            named, parsed = self._compiled(writer)
            bodies = [values[i][HEADER_SIZE:] for i in run]
            buf = BytesIO(b"".join(bodies))
            tell = buf.tell
            records = []
            end = 0
            try:
                for body in bodies:
                    records.append(_read_record(buf, parsed, named, None, _READ_OPTIONS))
                    end += len(body)
                    if tell() != end:
                        break
                else:
                    for i, record in zip(run, records, strict=True):
                        out[i] = (writer.name, record)
                    return
            except Exception:  # a corrupt body: decode value by value below, to name the bad ones
                pass
        for i in run:
            try:
                out[i] = self.decode(values[i])
            except DecodeError as exc:
                out[i] = exc

    def _compiled(self, writer: SchemaVersion):
        """``(named schemas, parsed schema)`` for fastavro's record reader, built once per schema version."""
        cache = self._compiled_readers
        hit = cache.get(writer.fingerprint)
        if hit is None:
            named = _default_named_schemas()
            hit = cache[writer.fingerprint] = (named, _named_parse(writer.raw, named["writer"]))
        return hit


def _validation_reason(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        return "; ".join(str(e) for e in errors)[:500]
    return str(exc)[:500]


@lru_cache(maxsize=1)
def get_codec() -> Codec:
    """The process-wide codec (schemas are parsed once)."""
    return Codec()
