"""Token lifetime bound, the ``jti`` every token carries, the ``deploy:force`` scope, revocation records and the
``wirereport auth token|revoke`` commands' one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest

from connectors.auth.tokens import CredentialError, mint_token, parse_scopes, revocation, verify_token
from connectors.cli.main import main
from connectors.exceptions import InputError
from schemas.codec import get_codec
from streams.settings import get_settings

SECRET = "lifetime-test-secret-" * 2
ISS, AUD, NOW = "wirereport", "wirereport-api", 1_800_000_000.0


def test_lifetime_is_bounded_when_minting_and_when_verifying():
    with pytest.raises(InputError, match=r"token lifetime 3600s is longer than .* \(60s\)"):
        mint_token(SECRET, "ops", "read", ttl_seconds=3600, max_ttl_seconds=60, issuer=ISS, audience=AUD)
    tok = mint_token(SECRET, "ops", "read", ttl_seconds=3600, issuer=ISS, audience=AUD, now=NOW)
    assert verify_token(tok, SECRET, issuer=ISS, audience=AUD, now=NOW, max_ttl_seconds=3600).subject == "ops"
    with pytest.raises(CredentialError, match="lifetime exceeds the allowed 60s"):
        verify_token(tok, SECRET, issuer=ISS, audience=AUD, now=NOW, max_ttl_seconds=60)


def test_every_token_carries_a_jti_and_one_without_is_refused():
    tok = mint_token(SECRET, "ops", "read", issuer=ISS, audience=AUD, now=NOW)
    claims = jwt.decode(tok, options={"verify_signature": False})
    assert verify_token(tok, SECRET, issuer=ISS, audience=AUD, now=NOW).token_id == claims["jti"]
    del claims["jti"]
    with pytest.raises(CredentialError, match="jti"):
        verify_token(jwt.encode(claims, SECRET, algorithm="HS256"), SECRET, issuer=ISS, audience=AUD, now=NOW)


def test_force_is_a_scope_of_its_own():
    assert parse_scopes("admin,deploy:force") == {"admin", "deploy:force"}
    with pytest.raises(InputError, match="at least one of the scopes read, admin"):
        parse_scopes("deploy:force")
    tok = mint_token(SECRET, "ops", "admin", issuer=ISS, audience=AUD, now=NOW)
    principal = verify_token(tok, SECRET, issuer=ISS, audience=AUD, now=NOW)
    assert principal.has_scope("read") and not principal.has_scope("deploy:force")


def test_revocation_records_match_their_schema():
    now = datetime(2026, 11, 1, tzinfo=UTC)
    record = revocation("abc-123", revoked_by="alice", reason="lost laptop", now=now)
    codec = get_codec()
    assert codec.decode(codec.encode("TokenRevocation", record))[1] == record
    with pytest.raises(InputError, match="bad jti"):
        revocation("not a jti!", revoked_by="alice", reason="", now=now)


def test_auth_token_refuses_a_long_lifetime_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("WIREREPORT_JWT_SECRET", SECRET)
    monkeypatch.setenv("WIREREPORT_MAX_TOKEN_TTL_SECONDS", "86400")
    get_settings.cache_clear()
    try:
        assert main(["auth", "token", "--subject", "alice", "--ttl", "36500d"]) == 2
        assert main(["auth", "revoke", "bad jti"]) == 2
    finally:
        get_settings.cache_clear()
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "wirereport: error: token lifetime 3153600000s is longer than WIREREPORT_MAX_TOKEN_TTL_SECONDS (86400s)",
        "wirereport: error: bad jti 'bad jti': a token's jti is 1-128 letters, digits, '_' or '-'",
    ]
