"""``wirereport auth token`` / ``hash-key`` as a user runs them (in-process ``main``)."""

from __future__ import annotations

from connectors.auth.tokens import parse_api_keys, verify_api_key, verify_token
from connectors.cli.main import main
from streams.settings import get_settings

SECRET = "cli-test-secret-" * 3


def test_auth_token_mints_a_verifiable_token(monkeypatch, capsys):
    monkeypatch.setenv("WIREREPORT_JWT_SECRET", SECRET)
    get_settings.cache_clear()
    try:
        assert main(["auth", "token", "--subject", "alice", "--scopes", "read,admin", "--ttl", "15m"]) == 0
    finally:
        get_settings.cache_clear()
    token = capsys.readouterr().out.strip()
    principal = verify_token(token, SECRET, issuer="wirereport", audience="wirereport-api")
    assert principal.subject == "alice" and principal.scopes == {"read", "admin"}


def test_auth_token_errors_are_one_line(monkeypatch, capsys):
    get_settings.cache_clear()
    assert main(["auth", "token", "--subject", "alice"]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip() == "wirereport: error: WIREREPORT_JWT_SECRET is not set (export a random string of 32+ characters)"
    )
    monkeypatch.setenv("WIREREPORT_JWT_SECRET", SECRET)
    get_settings.cache_clear()
    try:
        assert main(["auth", "token", "--subject", "alice", "--ttl", "soon"]) == 2
        assert "bad --ttl 'soon'" in capsys.readouterr().err
        assert main(["auth", "token", "--subject", "alice", "--scopes", "root"]) == 2
        assert "unknown scope 'root'" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


def test_hash_key_prints_an_entry_that_authenticates_the_key(capsys):
    key = "league-server-key-123456"
    assert main(["auth", "hash-key", key, "--name", "nba-7", "--scopes", "read,league:NBA"]) == 0
    entry = capsys.readouterr().out.strip()
    assert key not in entry and entry.startswith("nba-7:")
    principal = verify_api_key(key, parse_api_keys(entry))
    assert principal.subject == "nba-7" and principal.leagues == {"NBA"}
