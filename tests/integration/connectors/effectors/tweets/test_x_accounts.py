"""Posting to each league's own X account against the fake X of the testing kit: a real loopback HTTP server
that verifies every OAuth 1.0a signature, keeps X's limits and answers as scripted."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import httpx
import pytest

from connectors.effectors.tweets.accounts import (
    CREDENTIAL_FIELDS,
    AccountLimitReached,
    AccountPoster,
    XCredentials,
    env_name,
    load_accounts,
)
from connectors.effectors.tweets.outbox import Outbox
from connectors.effectors.tweets.publisher import RetryPolicy, deliver_due
from connectors.effectors.tweets.rolling_limit import RollingLimit
from connectors.effectors.tweets.x_client import (
    OAuth1UserContext,
    XClient,
    XCredentialsRefused,
    XDuplicateContent,
    XRateLimited,
    XUnavailable,
)
from connectors.testing import tweet_command
from connectors.testing.fake_x import Answer, FakeX
from streams.settings import Settings

LEAGUES = ("NFL", "NBA", "WNBA")


def credentials(account: str) -> XCredentials:
    a = account.lower()
    return XCredentials(
        consumer_key=f"{a}-consumer-key",
        consumer_secret=f"{a}-consumer-s3cr3t",
        access_token=f"1234-{a}-access-token",
        access_token_secret=f"{a}-token-s3cr3t",
    )


def secrets() -> list[str]:
    return [v for a in LEAGUES for v in credentials(a).secret_values()]


@pytest.fixture
def fake_x():
    fake = FakeX({a: credentials(a) for a in LEAGUES}, posts_per_day=17)
    with fake.serving() as url:
        fake.url = url
        yield fake


def signed_post(fake: FakeX, signer: XCredentials, signed_body: bytes, sent_body: bytes | None = None) -> int:
    """POST /2/tweets signed over ``signed_body``, sending ``sent_body`` (default the same)."""
    url = f"{fake.url}/2/tweets"
    header = OAuth1UserContext(signer).authorization("POST", url, signed_body, int(time.time()))
    sent = signed_body if sent_body is None else sent_body
    headers = {"Authorization": header, "Content-Type": "application/json"}
    return httpx.post(url, content=sent, headers=headers).status_code


def test_a_post_with_the_accounts_keys_is_accepted_and_recorded_as_that_account(fake_x):
    with XClient(credentials("NBA"), fake_x.url) as client:
        posted = client.post_tweet("Buzzer beater!")
    assert posted.tweet_id and posted.text == "Buzzer beater!"
    assert fake_x.posts_of("NBA") == ["Buzzer beater!"] and fake_x.posts_of("NFL") == []
    assert posted.limits.day_limit == 17 and posted.limits.day_remaining == 16


def test_another_accounts_keys_unknown_keys_a_tampered_body_or_a_replay_are_refused_401(fake_x):
    body = json.dumps({"text": "Lead change!"}).encode()
    mixed = credentials("NFL").model_copy(update={"access_token_secret": credentials("NBA").access_token_secret})
    stranger = XCredentials(consumer_key="ck", consumer_secret="cs", access_token="at", access_token_secret="ats")
    assert signed_post(fake_x, mixed, body) == 401
    assert signed_post(fake_x, stranger, body) == 401
    assert signed_post(fake_x, credentials("NFL"), body, json.dumps({"text": "Tampered!"}).encode()) == 401
    assert httpx.post(f"{fake_x.url}/2/tweets", json={"text": "unsigned"}).status_code == 401
    assert signed_post(fake_x, credentials("NFL"), body) == 201

    # the same signed request sent twice: the second reuses the nonce
    url = f"{fake_x.url}/2/tweets"
    header = OAuth1UserContext(credentials("WNBA")).authorization("POST", url, body, int(time.time()))
    headers = {"Authorization": header, "Content-Type": "application/json"}
    assert [httpx.post(url, content=body, headers=headers).status_code for _ in range(2)] == [201, 401]

    stale = OAuth1UserContext(credentials("NBA")).authorization("POST", url, body, int(time.time()) - 3600)
    assert httpx.post(url, content=body, headers={**headers, "Authorization": stale}).status_code == 401
    assert [(r.account, r.status) for r in fake_x.requests] == [
        (None, 401), (None, 401), (None, 401), (None, 401), ("NFL", 201), ("WNBA", 201), (None, 401), (None, 401)
    ]  # fmt: skip
    assert [p.account for p in fake_x.posts] == ["NFL", "WNBA"]


def test_every_outcome_is_classified(fake_x):
    reset = int(time.time()) + 900
    day_reset = int(time.time()) + 40_000
    fake_x.script(
        "NFL",
        Answer.server_error(503),
        Answer.rate_limited(reset_at=reset),
        Answer.rate_limited(reset_at=day_reset, day=True),
        Answer.forbidden(),
    )
    fake_x.revoke("WNBA")
    client = XClient(credentials("NFL"), fake_x.url)
    with pytest.raises(XUnavailable) as unavailable:
        client.post_tweet("one")
    assert unavailable.value.retryable and unavailable.value.status == 503
    with pytest.raises(XRateLimited) as limited:
        client.post_tweet("one")
    assert limited.value.retry_at == reset and limited.value.retryable
    with pytest.raises(XRateLimited) as day_limited:
        client.post_tweet("one")
    assert day_limited.value.retry_at == day_reset
    with pytest.raises(XCredentialsRefused):
        client.post_tweet("one")
    assert client.post_tweet("one").text == "one"
    with pytest.raises(XDuplicateContent) as duplicate:
        client.post_tweet("one")
    assert duplicate.value.duplicate and not duplicate.value.retryable
    with pytest.raises(XCredentialsRefused) as refused:
        XClient(credentials("WNBA"), fake_x.url).post_tweet("one")
    assert refused.value.status == 401 and refused.value.hold_account
    assert fake_x.posts_of("NFL") == ["one"] and fake_x.posts_of("WNBA") == []


def test_a_failing_text_is_refused_until_healed_while_the_others_post(fake_x):
    fake_x.fail_text("Touchdown!")
    fake_x.fail_text("Pick six!", Answer.server_error(500))
    client = XClient(credentials("NFL"), fake_x.url)
    for _ in range(2):
        with pytest.raises(XUnavailable) as unavailable:
            client.post_tweet("Touchdown!")
        assert unavailable.value.status == 503
    assert client.post_tweet("Field goal!").text == "Field goal!"
    with pytest.raises(XUnavailable):
        client.post_tweet("Pick six!")
    fake_x.heal_text("Touchdown!")
    assert client.post_tweet("Touchdown!").text == "Touchdown!"
    assert fake_x.posts_of("NFL") == ["Field goal!", "Touchdown!"]
    assert [r.status for r in fake_x.requests] == [503, 503, 201, 500, 201]


def test_the_fake_keeps_the_rolling_24_hours_and_the_429_resets_when_the_oldest_post_leaves(fake_x):
    now = [1_800_000_000.0]
    fake_x.clock = lambda: now[0]
    fake_x.posts_per_day = 3
    client = XClient(credentials("NFL"), fake_x.url)
    first_at = now[0]
    for i in range(3):
        client.post_tweet(f"play {i}")
        now[0] += 600
    with pytest.raises(XRateLimited) as limited:
        client.post_tweet("play 3")
    assert limited.value.retry_at == first_at + 86_400
    assert limited.value.limits.day_remaining == 0
    now[0] = first_at + 86_400
    assert client.post_tweet("play 3").limits.day_remaining == 0


def test_the_poster_never_sends_beyond_the_limit_however_many_tweets_are_due(fake_x):
    """Thirty due tweets for one account: 17 posted, none asked of X beyond (no 429 ever answered)."""
    poster = AccountPoster.from_accounts(
        load_accounts(None, environ=_environ()), RollingLimit(max_posts=17), base_url=fake_x.url
    )
    refused = 0
    for i in range(30):
        try:
            poster.post_text("NFL", f"Touchdown {i}!")
        except AccountLimitReached:
            refused += 1
    assert len(fake_x.posts_of("NFL")) == 17 and refused == 13
    assert {r.status for r in fake_x.requests} == {201} and len(fake_x.requests) == 17
    poster.close()


def test_the_poster_is_a_publisher_sender_posting_each_command_to_its_own_account(fake_x, tmp_path):
    settings = Settings(_env_file=None, x_api_base_url=fake_x.url, tweets_per_day=17)
    at = datetime(2018, 9, 9, 20, 0, tzinfo=UTC)
    commands = [
        {**tweet_command(account, str(i), at), "occurred_at": "2018-09-09T20:00:00Z"}
        for account in LEAGUES
        for i in range(2)
    ]
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.accept([(c, "2018-09-09") for c in commands], limit=17, now=0.0)
    fake_x.revoke("WNBA")
    poster = AccountPoster.from_accounts(
        load_accounts(None, environ=_environ()), RollingLimit(settings.tweets_per_day), base_url=fake_x.url
    )
    counts = deliver_due(outbox, poster, RetryPolicy(max_attempts=3), clock=time.time)
    assert counts["posted"] == 4
    assert [len(fake_x.posts_of(a)) for a in LEAGUES] == [2, 2, 0]
    for c in commands:
        row = outbox.get(c["command_id"])
        assert row["status"] == ("posted" if c["account"] != "WNBA" else "held")
    poster.close()


def test_secrets_never_reach_the_logs(fake_x, caplog):
    caplog.set_level(logging.DEBUG)
    fake_x.script("NBA", Answer.server_error(), Answer.rate_limited(reset_at=time.time() + 60))
    fake_x.revoke("WNBA")
    poster = AccountPoster.from_accounts(load_accounts(None, environ=_environ()), base_url=fake_x.url)
    for account in LEAGUES:
        for text in ("first", "first", "second"):
            try:
                poster.post_text(account, text)
            except Exception as exc:
                logging.getLogger("test").warning("not posted: %s (%r)", exc, exc)
    logging.getLogger("test").info("poster %r accounts %r", poster, load_accounts(None, environ=_environ()))
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "X account WNBA held" in logged and "not posted" in logged
    assert not [s for s in secrets() if s in logged]


def _environ() -> dict[str, str]:
    """Every league's credentials as WIREREPORT_X_<ACCOUNT>_<FIELD> variables."""
    return {
        env_name(a, field): getattr(credentials(a), field).get_secret_value()
        for a in LEAGUES
        for field in CREDENTIAL_FIELDS
    }
