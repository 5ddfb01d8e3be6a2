"""Tokens and API keys: what is accepted, what is refused, and why."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from connectors.auth.tokens import (
    CredentialError,
    hash_key,
    mint_token,
    parse_api_keys,
    parse_scopes,
    parse_ttl,
    verify_api_key,
    verify_token,
)
from connectors.exceptions import InputError

SECRET = "s3cret-" * 6
ISS, AUD = "wirereport", "wirereport-api"
NOW = 1_800_000_000


def _mint(**kw):
    args = {"ttl_seconds": 3600, "issuer": ISS, "audience": AUD, "now": NOW} | kw
    return mint_token(SECRET, "ops", "read,admin", **args)


def test_round_trip_gives_subject_and_scopes():
    principal = verify_token(_mint(), SECRET, issuer=ISS, audience=AUD, now=NOW + 10)
    assert principal.subject == "ops"
    assert principal.scopes == {"read", "admin"}
    assert principal.leagues is None and principal.kind == "token"
    assert principal.has_scope("admin") and principal.has_scope("read")


def test_admin_implies_read_but_read_does_not_imply_admin():
    token = mint_token(SECRET, "viewer", "read", issuer=ISS, audience=AUD, now=NOW)
    principal = verify_token(token, SECRET, issuer=ISS, audience=AUD, now=NOW)
    assert principal.has_scope("read") and not principal.has_scope("admin")


def test_expired_token_is_refused():
    token = _mint(ttl_seconds=60)
    assert verify_token(token, SECRET, issuer=ISS, audience=AUD, now=NOW + 60).subject == "ops"
    with pytest.raises(CredentialError, match="expired"):
        verify_token(token, SECRET, issuer=ISS, audience=AUD, now=NOW + 120)


def test_expiry_and_issue_time_are_checked_against_the_real_clock():
    stale = mint_token(SECRET, "ops", "read", ttl_seconds=60, issuer=ISS, audience=AUD, now=time.time() - 7200)
    with pytest.raises(CredentialError, match="expired"):
        verify_token(stale, SECRET, issuer=ISS, audience=AUD)
    future = mint_token(SECRET, "ops", "read", ttl_seconds=60, issuer=ISS, audience=AUD, now=time.time() + 3600)
    with pytest.raises(CredentialError, match="not yet valid"):
        verify_token(future, SECRET, issuer=ISS, audience=AUD)
    fresh = mint_token(SECRET, "ops", "read", ttl_seconds=60, issuer=ISS, audience=AUD)
    assert verify_token(fresh, SECRET, issuer=ISS, audience=AUD).subject == "ops"


def test_wrong_audience_issuer_or_secret_is_refused():
    with pytest.raises(CredentialError, match="audience"):
        verify_token(_mint(audience="other-api"), SECRET, issuer=ISS, audience=AUD, now=NOW)
    with pytest.raises(CredentialError, match="issuer"):
        verify_token(_mint(issuer="evil"), SECRET, issuer=ISS, audience=AUD, now=NOW)
    with pytest.raises(CredentialError, match="invalid token"):
        verify_token(_mint(), "another-secret-" * 3, issuer=ISS, audience=AUD, now=NOW)


def test_unsigned_and_other_algorithm_tokens_are_refused():
    claims = {"sub": "ops", "scope": "admin", "iat": NOW, "exp": NOW + 99, "iss": ISS, "aud": AUD}
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    unsigned = (header + b"." + body + b".").decode()
    with pytest.raises(CredentialError):
        verify_token(unsigned, SECRET, issuer=ISS, audience=AUD, now=NOW)
    hs512 = jwt.encode(claims, SECRET * 2, algorithm="HS512")
    with pytest.raises(CredentialError):
        verify_token(hs512, SECRET * 2, issuer=ISS, audience=AUD, now=NOW)


def test_tampered_claims_are_refused():
    head, body, sig = _mint().split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["scope"] = "admin read"
    claims["sub"] = "root"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(CredentialError):
        verify_token(f"{head}.{forged}.{sig}", SECRET, issuer=ISS, audience=AUD, now=NOW)


def test_missing_claims_and_no_secret_are_refused():
    no_exp = jwt.encode({"sub": "ops", "scope": "read", "iat": NOW, "iss": ISS, "aud": AUD}, SECRET, "HS256")
    with pytest.raises(CredentialError, match="exp"):
        verify_token(no_exp, SECRET, issuer=ISS, audience=AUD, now=NOW)
    with pytest.raises(CredentialError, match="no JWT secret"):
        verify_token(_mint(), None, issuer=ISS, audience=AUD, now=NOW)


def test_minting_needs_a_long_secret_and_known_scopes():
    with pytest.raises(InputError, match="not set"):
        mint_token(None, "ops", "read", issuer=ISS, audience=AUD)
    with pytest.raises(InputError, match="too short"):
        mint_token("short", "ops", "read", issuer=ISS, audience=AUD)
    with pytest.raises(InputError, match="unknown scope"):
        mint_token(SECRET, "ops", "read,root", issuer=ISS, audience=AUD)
    with pytest.raises(InputError, match="at least one"):
        mint_token(SECRET, "ops", "league:NFL", issuer=ISS, audience=AUD)


def test_league_scopes_bind_a_credential_to_leagues():
    scopes = parse_scopes("read+league:NFL")
    assert scopes == {"read", "league:NFL"}
    token = mint_token(SECRET, "nfl-1", "read,league:NFL", issuer=ISS, audience=AUD, now=NOW)
    principal = verify_token(token, SECRET, issuer=ISS, audience=AUD, now=NOW)
    assert principal.leagues == {"NFL"}
    assert principal.may_see("NFL") and not principal.may_see("NBA")
    with pytest.raises(InputError):
        parse_scopes("read,league:XFL")


def test_ttl_parsing():
    assert [parse_ttl(t) for t in ("90", "90s", "15m", "1h", "7d")] == [90, 90, 900, 3600, 604800]
    for bad in ("", "0h", "-1h", "1w", "h"):
        with pytest.raises(InputError):
            parse_ttl(bad)


def test_api_keys_are_stored_hashed_and_compared_by_hash():
    key = "nfl-server-key-0123456789"
    digest = hash_key(key)
    assert len(digest) == 64 and key not in digest
    entries = parse_api_keys(f"nfl-1:{digest}:read+league:NFL, ops:{hash_key('o' * 20)}:read|admin")
    assert [e.name for e in entries] == ["nfl-1", "ops"]
    principal = verify_api_key(key, entries)
    assert principal.subject == "nfl-1" and principal.kind == "api_key"
    assert principal.leagues == {"NFL"} and not principal.has_scope("admin")
    assert verify_api_key("o" * 20, entries).has_scope("admin")
    with pytest.raises(CredentialError):
        verify_api_key(key + "x", entries)
    with pytest.raises(CredentialError):
        verify_api_key(digest, entries)  # the stored hash itself is not a key


def test_bad_api_key_entries_are_reported_without_the_hash():
    with pytest.raises(InputError, match="64 hex"):
        parse_api_keys("a:abc:read")
    with pytest.raises(InputError, match="name:sha256hex:scopes"):
        parse_api_keys("just-a-key")
    with pytest.raises(InputError, match="16 characters"):
        hash_key("short")
    assert parse_api_keys(None) == [] and parse_api_keys(" , ") == []
