"""Errors raised by the stream processing layer."""


class StreamsError(Exception):
    """Base class for errors of the ``streams`` package."""


class InvalidRecord(StreamsError):
    """A record decoded fine but breaks a domain rule (e.g. a negative score)."""
