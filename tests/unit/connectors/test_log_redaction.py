"""Secrets never reach the logs."""

from __future__ import annotations

import logging

from connectors.log_redaction import REDACTED, RedactingFilter, redact, secret_values
from streams.settings import Settings


def test_patterns_are_redacted():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcHMifQ.c2lnbmF0dXJlLXZhbHVl"
    text = (
        f"Authorization: Bearer abc.def-123 token=s3cr3tT0ken password: hunter22 api_key=AKIA1234 "
        f'{{"client_secret": "xyz987"}} jwt {jwt} https://hooks.slack.com/services/T000/B000/XXXX'
    )
    out = redact(text)
    for secret in ("abc.def-123", "s3cr3tT0ken", "hunter22", "AKIA1234", "xyz987", jwt, "T000/B000/XXXX"):
        assert secret not in out
    assert out.count(REDACTED) >= 7
    assert "Authorization" in out


def test_configured_secret_values_are_redacted_wherever_they_appear(monkeypatch, caplog):
    monkeypatch.setenv("WIREREPORT_X_BEARER_TOKEN", "very-private-value-42")
    settings = Settings()
    assert "very-private-value-42" not in repr(settings)  # SecretStr never prints
    logger = logging.getLogger("test.redaction")
    handler_filter = RedactingFilter(secret_values(settings))
    caplog.handler.addFilter(handler_filter)
    try:
        logger.warning("posting with %s failed", "very-private-value-42")
        try:
            raise RuntimeError("bad credential very-private-value-42")
        except RuntimeError:
            logger.exception("request failed")
    finally:
        caplog.handler.removeFilter(handler_filter)
    assert "very-private-value-42" not in caplog.text
    assert REDACTED in caplog.text


def test_plain_messages_are_untouched():
    assert redact("game 2018090905 final: NE 27, HOU 20") == "game 2018090905 final: NE 27, HOU 20"
