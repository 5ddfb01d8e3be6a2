"""Errors raised by the schema registry and codec."""


class SchemaError(Exception):
    """Base class for schema errors."""


class UnknownSchema(SchemaError):
    """No schema of that name (or fingerprint) is known."""


class DecodeError(SchemaError):
    """Bytes that are not a single-object-encoded record of a known schema."""


class EncodeError(SchemaError):
    """A record that does not conform to its schema."""
