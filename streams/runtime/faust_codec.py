"""Faust codecs: table keys as UTF-8 text, table values as Avro single-object encoded records."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from faust.serializers.codecs import Codec as FaustCodec

from schemas.codec import get_codec


class Utf8Codec(FaustCodec):
    """str <-> UTF-8 bytes (keys come back as the same ``str`` after a changelog recovery)."""

    def _dumps(self, obj: Any) -> bytes:
        return obj.encode() if isinstance(obj, str) else bytes(obj)

    def _loads(self, s: bytes) -> Any:
        return s.decode()


class AvroRecordCodec(FaustCodec):
    """Serializes a dict as a record of one schema (tables' changelogs are Avro too)."""

    def __init__(self, schema_name: str, **kwargs: Any):
        self.schema_name = schema_name
        super().__init__(schema_name=schema_name, **kwargs)

    def _dumps(self, obj: Any) -> bytes:
        return get_codec().encode(self.schema_name, obj)

    def _loads(self, s: bytes) -> Any:
        return get_codec().decode(s, (self.schema_name,))[1]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class JsonStateCodec(FaustCodec):
    """A JSON-able dict of a pure domain module's state, wrapped in the Avro ``JsonState`` record."""

    def _dumps(self, obj: Any) -> bytes:
        return get_codec().encode("JsonState", {"json": json.dumps(obj, default=_json_default, separators=(",", ":"))})

    def _loads(self, s: bytes) -> Any:
        return json.loads(get_codec().decode(s, ("JsonState",))[1]["json"])
