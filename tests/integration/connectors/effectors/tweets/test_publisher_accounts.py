"""Acceptance: a real ``wirereport publisher`` process posts each league's tweet commands with that account's own
OAuth 1.0a keys to the fake X of the testing kit (every signature checked), through a real embedded broker of its
own (no other test's commands on it), within the rolling limit, holding the account X refuses, and repeating
nothing across a SIGKILL and a restart."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from connectors.effectors.tweets.accounts import XCredentials
from connectors.effectors.tweets.outbox import Outbox
from connectors.kafka.edge import EdgeProducer, consume_records
from connectors.testing import WirereportProcess, running_broker, tweet_command, wait_until
from connectors.testing.fake_x import Answer, FakeX

LEAGUES = ("NFL", "NBA", "WNBA")
LIMIT = 3  # tweets per account in any rolling 24 hours (the fake X keeps the same limit)


def credentials(account: str) -> XCredentials:
    a = account.lower()
    return XCredentials(
        consumer_key=f"{a}-consumer-key",
        consumer_secret=f"{a}-consumer-s3cr3t",
        access_token=f"1234-{a}-access-token",
        access_token_secret=f"{a}-token-s3cr3t",
    )


def command(account: str, n: int) -> dict:
    at = datetime(2018, 9, 9, 20, 0, tzinfo=UTC) + timedelta(minutes=n)
    return tweet_command(account, str(n), at, league=account, text=f"{account} moment {n}: lead change!")


def produce(bootstrap: str, commands: list[dict]) -> None:
    with EdgeProducer(bootstrap) as producer:
        for c in commands:
            producer.send("tweet-commands", c)


def latest(bootstrap: str, name: str) -> list[dict]:
    return [r for _, r in consume_records(bootstrap, name, timeout=1.0)]


def receipts_by_id(bootstrap: str) -> dict[str, dict]:
    """The latest receipt of each command (the topic is compacted on the command id)."""
    return {r["command_id"]: r for r in latest(bootstrap, "tweet-receipts")}


@pytest.fixture
def own_broker():
    with running_broker() as bootstrap:
        yield bootstrap


@pytest.fixture
def fake_x():
    fake = FakeX({a: credentials(a) for a in LEAGUES}, posts_per_day=LIMIT)
    with fake.serving() as url:
        fake.url = url
        yield fake


def publisher_env(tmp_path, fake_x) -> dict[str, str]:
    accounts_file = tmp_path / "x-accounts.json"
    accounts_file.write_text(json.dumps({a: {k: v.get_secret_value() for k, v in credentials(a)} for a in LEAGUES}))
    return {
        "WIREREPORT_DATA_DIR": str(tmp_path / "data"),
        "WIREREPORT_X_ACCOUNTS_FILE": str(accounts_file),
        "WIREREPORT_X_API_BASE_URL": fake_x.url,
        "WIREREPORT_TWEETS_PER_DAY": str(LIMIT),
        "WIREREPORT_PUBLISHER_RETRY_BASE_SECONDS": "0.2",
        "WIREREPORT_PUBLISHER_RETRY_MAX_SECONDS": "1",
    }


def test_each_account_posts_with_its_own_keys_within_the_limit_holds_on_401_and_survives_sigkill(
    own_broker, fake_x, tmp_path
):
    nfl = [command("NFL", n) for n in range(5)]  # 5 commands, 3 allowed
    nba = [command("NBA", n) for n in range(3)]  # its duplicate counts against the limit too
    wnba = [command("WNBA", n) for n in range(3)]
    first = nfl[:3] + nba[:2] + wnba[:2]
    produce(own_broker, first + first[::2])  # some redelivered at once

    # NFL: 429 with a reset 2 s away, then 503, then X answers as usual; NBA: its first text refused as a
    # duplicate; WNBA: its access token revoked (401)
    fake_x.script("NFL", Answer.rate_limited(reset_at=time.time() + 2), Answer.server_error(503))
    fake_x.script("NBA", Answer.duplicate())
    fake_x.revoke("WNBA")
    env = publisher_env(tmp_path, fake_x)

    proc = WirereportProcess(["publisher"], bootstrap=own_broker, env=env).start()
    proc.wait_for_output("tweet publisher ready", timeout=30)
    assert "X API as NFL, NBA, WNBA" in proc.output
    wait_until(lambda: len(fake_x.posts_of("NBA")) >= 1, timeout=20, message=lambda: proc.output[-3000:])
    proc.kill()  # mid-run: NFL is still waiting for the reset X reported
    requests_before_restart = len(fake_x.requests)

    produce(own_broker, first + nfl[3:] + nba[2:] + wnba[2:])  # everything redelivered, and new commands
    with WirereportProcess(["publisher"], bootstrap=own_broker, env=env) as proc:
        proc.wait_for_output("tweet publisher ready", timeout=30)
        wait_until(
            lambda: len(fake_x.posts_of("NFL")) == LIMIT and len(fake_x.posts_of("NBA")) == 2,
            timeout=30,
            message=lambda: f"posts {fake_x.posts}; output:\n{proc.output[-3000:]}",
        )
        held = {c["command_id"] for c in wnba}
        wait_until(
            lambda: {i for i, r in receipts_by_id(own_broker).items() if r["status"] == "held"} >= held,
            timeout=20,
            message="WNBA's commands are not all held",
        )
        assert proc.stop() == 0
    assert "tweet publisher stopped" in proc.output

    # every command posted once, with its own account's keys (the fake verified each signature)
    texts = [p.text for p in fake_x.posts]
    assert len(texts) == len(set(texts))
    assert sorted(fake_x.posts_of("NFL")) == [c["text"] for c in nfl[:LIMIT]]
    assert sorted(fake_x.posts_of("NBA")) == sorted(c["text"] for c in nba[1:])
    assert fake_x.posts_of("WNBA") == []
    assert all(p.text.startswith(f"{p.account} moment") for p in fake_x.posts)  # signed by the text's account
    # never beyond the rolling limit: the fake never had to refuse a post over its own 24-hour limit
    scripted_429 = 1
    assert sum(r.status == 429 for r in fake_x.requests) == scripted_429
    # the restart repeated nothing: at most the one post in flight at the SIGKILL was asked again (and X refused
    # it as a duplicate)
    repeated = [r for r in fake_x.requests[requests_before_restart:] if r.status == 403 and r.text in texts]
    assert len(repeated) <= 1

    receipts = receipts_by_id(own_broker)
    status = {c["command_id"]: receipts[c["command_id"]]["status"] for c in nfl + nba + wnba}
    assert [status[c["command_id"]] for c in nfl] == ["posted"] * 3 + ["skipped_limit"] * 2
    assert [status[c["command_id"]] for c in nba] == ["duplicate", "posted", "posted"]
    assert [status[c["command_id"]] for c in wnba] == ["held"] * 3
    assert all(receipts[c["command_id"]]["detail"].startswith("held: credentials refused") for c in wnba)
    assert all(receipts[c["command_id"]]["tweet_id"] for c in nfl[:3] + nba[1:])

    alerts = [a for a in latest(own_broker, "alerts") if a["alertname"] == "XAccountHeld"]
    assert {(a["labels"]["account"], a["status"]) for a in alerts} == {("WNBA", "firing")}
    assert alerts[0]["league"] == "WNBA" and "credentials refused" in alerts[0]["summary"]

    outbox = Outbox(tmp_path / "data" / "tweet-outbox.sqlite3")
    assert outbox.held_accounts().keys() == {"WNBA"}
    assert outbox.status_counts() == {"posted": 5, "over_limit": 2, "duplicate": 1, "held": 3}
    outbox.close()


def test_one_publisher_per_account_keeps_its_own_outbox_and_passes_over_the_other_accounts(
    own_broker, fake_x, tmp_path
):
    nfl, nba = [command("NFL", n) for n in range(2)], [command("NBA", n) for n in range(2)]
    produce(own_broker, [nfl[0], nba[0], nfl[1], nba[1]])
    env = publisher_env(tmp_path, fake_x)
    data = tmp_path / "data"

    with WirereportProcess(["publisher", "--account", "NFL", "--once"], bootstrap=own_broker, env=env) as proc:
        assert proc.process.wait(30) == 0, proc.output
    assert "2 posted" in proc.output
    assert sorted(fake_x.posts_of("NFL")) == [c["text"] for c in nfl] and fake_x.posts_of("NBA") == []
    nfl_outbox = Outbox(data / "tweets-NFL.sqlite")
    assert nfl_outbox.status_counts() == {"posted": 2}  # NBA's commands passed over, not marked
    assert nfl_outbox.positions()  # the topic was read to its end
    nfl_outbox.close()

    with WirereportProcess(["publisher", "--account", "NBA", "--once"], bootstrap=own_broker, env=env) as proc:
        assert proc.process.wait(30) == 0, proc.output
    assert sorted(fake_x.posts_of("NBA")) == [c["text"] for c in nba] and len(fake_x.posts) == 4
    assert not (data / "tweet-outbox.sqlite3").exists()


def test_an_unusable_accounts_file_is_one_error_line_and_exit_2(tmp_path, monkeypatch, capsys):
    from connectors.cli.main import main
    from streams.settings import get_settings

    accounts_file = tmp_path / "x-accounts.json"
    accounts_file.write_text(json.dumps({"NFL": {"consumer_key": "ck-s3cr3t-value"}}))
    monkeypatch.setenv("WIREREPORT_X_ACCOUNTS_FILE", str(accounts_file))
    monkeypatch.setenv("WIREREPORT_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert main(["publisher", "--once"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err.strip()
    assert err.startswith("wirereport: error: WIREREPORT_X_ACCOUNTS_FILE") and "\n" not in err
    assert "'consumer_secret' is missing" in err and "ck-s3cr3t-value" not in err
