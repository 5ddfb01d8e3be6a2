"""Avro schemas of every Wire Report record, versioned, with a single-object-encoding codec."""

from schemas.codec import Codec, get_codec
from schemas.exceptions import DecodeError, EncodeError, SchemaError, UnknownSchema

__all__ = ["Codec", "DecodeError", "EncodeError", "SchemaError", "UnknownSchema", "get_codec"]
