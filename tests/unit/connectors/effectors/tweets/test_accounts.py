"""X accounts: credentials per account from the accounts file and the environment; errors that name the file,
account and field but never a secret."""

from __future__ import annotations

import json

import pytest

from connectors.effectors.tweets.accounts import (
    CREDENTIAL_FIELDS,
    AccountsError,
    XCredentials,
    accounts_from_settings,
    env_name,
    load_accounts,
)
from streams.settings import Settings


def keys(name: str) -> dict[str, str]:
    return {field: f"{name}-{field}-s3cr3t" for field in CREDENTIAL_FIELDS}


def write(tmp_path, document) -> str:
    path = tmp_path / "x-accounts.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def test_each_league_account_gets_its_own_credentials_from_the_file(tmp_path):
    path = write(tmp_path, {"NFL": keys("nfl"), "NBA": keys("nba"), "NFL-PHI": keys("phi")})
    accounts = load_accounts(path, environ={})
    assert sorted(accounts) == ["NBA", "NFL", "NFL-PHI"]
    assert accounts.unconfigured == ("WNBA",)
    assert accounts.declared == ("NFL", "NBA", "NFL-PHI", "WNBA")
    assert accounts["NFL"].consumer_key.get_secret_value() == "nfl-consumer_key-s3cr3t"
    assert accounts["NFL-PHI"].access_token_secret.get_secret_value() == "phi-access_token_secret-s3cr3t"


def test_environment_variables_fill_and_override_the_file(tmp_path):
    path = write(tmp_path, {"NFL": keys("nfl")})
    environ = {env_name("NBA", field): value for field, value in keys("nba-env").items()}
    environ[env_name("NFL", "access_token")] = "nfl-rotated-token"
    environ[env_name("NFL-PHI", "consumer_key")] = "not declared, ignored"
    accounts = load_accounts(path, environ=environ)
    assert sorted(accounts) == ["NBA", "NFL"]
    assert accounts["NFL"].access_token.get_secret_value() == "nfl-rotated-token"
    assert accounts["NFL"].consumer_key.get_secret_value() == "nfl-consumer_key-s3cr3t"
    assert accounts["NBA"].consumer_secret.get_secret_value() == "nba-env-consumer_secret-s3cr3t"
    assert env_name("NFL-PHI", "access_token_secret") == "WIREREPORT_X_NFL_PHI_ACCESS_TOKEN_SECRET"


def test_no_file_and_no_environment_means_every_league_unconfigured():
    accounts = load_accounts(None, environ={})
    assert len(accounts) == 0 and accounts.unconfigured == ("NFL", "NBA", "WNBA")


def test_settings_name_the_accounts_file(tmp_path, monkeypatch):
    path = write(tmp_path, {"WNBA": keys("wnba")})
    monkeypatch.setenv("WIREREPORT_X_ACCOUNTS_FILE", path)
    settings = Settings(_env_file=None)
    assert str(settings.x_accounts_file) == path
    assert list(accounts_from_settings(settings, environ={})) == ["WNBA"]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ('{"NFL": {"consumer_key": "abc",', "not valid JSON (Expecting"),
        ("[1, 2]", "must be a JSON object mapping each account name to its credentials"),
        ({"NFL": "s3cr3t-string"}, "account 'NFL': must be an object with consumer_key"),
        ({"N FL": keys("x")}, "account name 'N FL' must be 1-64 letters"),
        ({"NFL": {**keys("nfl"), "consumer_secret": None}}, "account 'NFL': field 'consumer_secret' must be a string"),
        ({"NFL": {**keys("nfl"), "access_token": ""}}, "account 'NFL': field 'access_token' is empty"),
        (
            {"NBA": {k: v for k, v in keys("nba").items() if k != "consumer_secret"}},
            "field 'consumer_secret' is missing",
        ),
        ({"NBA": {**keys("nba"), "acces_token": "s3cr3t-typo"}}, "field 'acces_token' is not a credential field"),
    ],
)
def test_a_malformed_file_is_one_line_naming_file_account_and_field_never_a_secret(tmp_path, document, problem):
    path = write(tmp_path, document)
    with pytest.raises(AccountsError) as raised:
        load_accounts(path, environ={})
    message = str(raised.value)
    assert message.startswith(f"WIREREPORT_X_ACCOUNTS_FILE {path}: ")
    assert problem in message
    assert "\n" not in message and "s3cr3t" not in message
    assert raised.value.exit_code == 2


def test_an_unreadable_file_is_named(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(AccountsError, match=rf"WIREREPORT_X_ACCOUNTS_FILE {missing}: cannot be read"):
        load_accounts(missing, environ={})


def test_a_bad_environment_value_names_the_variable_and_a_missing_field_says_where_to_put_it():
    environ = {env_name("NFL", "consumer_key"): "s3cr3t-key", env_name("NFL", "consumer_secret"): ""}
    with pytest.raises(AccountsError) as raised:
        load_accounts(None, environ=environ)
    message = str(raised.value)
    assert "WIREREPORT_X_NFL_CONSUMER_SECRET: account 'NFL': field 'consumer_secret' is empty" in message
    assert (
        "WIREREPORT_X_NFL_ACCESS_TOKEN (or WIREREPORT_X_ACCOUNTS_FILE): account 'NFL': field 'access_token'" in message
    )
    assert "s3cr3t" not in message


def test_secrets_never_show_in_reprs(tmp_path):
    accounts = load_accounts(write(tmp_path, {"NFL": keys("nfl")}), environ={})
    shown = repr(accounts) + str(accounts["NFL"]) + repr(accounts["NFL"]) + repr(dict(accounts))
    assert "s3cr3t" not in shown and "NFL" in shown
    assert sorted(accounts.secret_values()) == sorted(keys("nfl").values())


def test_credentials_are_frozen():
    credentials = XCredentials(**keys("nfl"))
    with pytest.raises(ValueError):
        credentials.access_token = "other"
