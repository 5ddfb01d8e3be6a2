"""Logging setup with a filter that redacts secrets: bearer headers, tokens, keys, passwords, JWTs."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

REDACTED = "[REDACTED]"

_PATTERNS = (
    # Authorization: Bearer <token>
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"),
    # key=value / key: value / "key": "value" for secret-like keys
    re.compile(
        r"(?i)([\"']?\b[\w-]*(?:token|secret|password|passwd|api[_-]?key|access[_-]?key|private[_-]?key"
        r"|authorization|webhook[_-]?url)\b[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&]+)"
    ),
    # bare JWTs
    re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"),
    # Slack webhook URLs
    re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with known secret values and secret-looking patterns replaced by ``[REDACTED]``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        if pattern.groups >= 2 or pattern.groups == 1:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and exception text) with secrets redacted."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format call must not raise in the caller (a filter runs before the handler's guard)
            message = f"{record.msg} {record.args!r}"
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


def secret_values(settings) -> list[str]:
    """Every secret value configured in ``settings`` (fields typed ``SecretStr``)."""
    values = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value"):
            values.append(value.get_secret_value())
    return values


def configure_logging(
    level: str = "INFO", secrets: Iterable[str] = (), prefix: str = "", log_format: str | None = None
) -> None:
    """Log to stderr through the redacting filter (idempotent).

    ``log_format`` is ``text`` (one readable line) or ``json`` (one object a line, with the correlation ids of
    :mod:`connectors.observability.logging_json`); unset, it is the ``log_format`` setting
    (``WIREREPORT_LOG_FORMAT``). Redaction runs first, whatever the format.
    """
    from connectors.observability.logging_json import CorrelationFilter, JsonFormatter

    if log_format is None:
        from streams.settings import get_settings

        log_format = get_settings().log_format
    if log_format not in ("text", "json"):
        raise ValueError(f"log format {log_format!r} is not text or json")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_wirereport", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._wirereport = True  # type: ignore[attr-defined]
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    handler.addFilter(CorrelationFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
