"""Errors raised by connectors; the CLI prints them as one line and exits non-zero."""


class ConnectorError(Exception):
    """Base class for connector errors. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class BrokerUnavailable(ConnectorError):
    """The Kafka cluster cannot be reached."""


class BrokerStartError(ConnectorError):
    """The embedded broker could not be started."""


class InputError(ConnectorError):
    """A user-supplied file or argument is unusable."""

    exit_code = 2


class InvalidInputLines(ConnectorError):
    """Some input lines were invalid (they were reported; valid lines were still processed)."""

    exit_code = 3
