"""The X client's outcomes (httpx mock transport, no network), its OAuth 1.0a signature, and the per-account
poster that never posts beyond an account's limits."""

from __future__ import annotations

import json
from types import SimpleNamespace

import httpx
import pytest
from oauthlib.oauth1 import Client as OAuth1Client

from connectors.effectors.tweets.accounts import AccountHeld, AccountLimitReached, AccountPoster, XCredentials
from connectors.effectors.tweets.rolling_limit import RollingLimit
from connectors.effectors.tweets.x_client import (
    OAuth1UserContext,
    PostedTweet,
    RateLimits,
    XApiError,
    XClient,
    XCredentialsRefused,
    XDuplicateContent,
    XRateLimited,
    XRequestRejected,
    XUnavailable,
)

NOW = 1_800_000_000.0
CREDENTIALS = XCredentials(
    consumer_key="ck-nfl", consumer_secret="cs-s3cr3t", access_token="at-nfl", access_token_secret="ats-s3cr3t"
)


class ScriptedX:
    """A mock transport answering from a list of (status, headers, body); records each request."""

    def __init__(self, *answers: tuple[int, dict, dict]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, headers, body = self.answers.pop(0) if self.answers else (201, {}, None)
        if body is None:
            text = json.loads(request.content)["text"]
            body = {"data": {"id": str(len(self.requests)), "text": text}}
        return httpx.Response(status, headers=headers, json=body)

    def client(self, credentials: XCredentials | str = CREDENTIALS) -> XClient:
        return XClient(credentials, "https://x.test", transport=httpx.MockTransport(self), clock=lambda: NOW)


def post(*answers) -> XApiError | PostedTweet:
    try:
        return ScriptedX(*answers).client().post_tweet("Touchdown!")
    except XApiError as exc:
        return exc


def test_201_is_a_posted_tweet_with_the_remaining_counts_of_the_answer():
    headers = {
        "x-rate-limit-limit": "100",
        "x-rate-limit-remaining": "99",
        "x-rate-limit-reset": str(int(NOW + 900)),
        "x-user-limit-24hour-limit": "17",
        "x-user-limit-24hour-remaining": "16",
        "x-user-limit-24hour-reset": str(int(NOW + 86_400)),
    }
    posted = post((201, headers, {"data": {"id": "1445880548472328192", "text": "Touchdown!"}}))
    assert posted == PostedTweet(
        "1445880548472328192", "Touchdown!", RateLimits(100, 99, NOW + 900, 17, 16, NOW + 86_400)
    )
    assert not posted.limits.exhausted


def test_429_retries_at_the_15_minute_reset_x_reports():
    error = post((429, {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(NOW + 600))}, {}))
    assert isinstance(error, XRateLimited) and error.retryable and error.sent
    assert error.retry_at == NOW + 600 and error.retry_after == 600
    assert error.limits.remaining == 0


def test_429_with_the_24_hour_window_spent_retries_at_its_reset_not_the_15_minute_one():
    headers = {
        "x-rate-limit-remaining": "40",
        "x-rate-limit-reset": str(int(NOW + 300)),
        "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(int(NOW + 50_000)),
    }
    error = post((429, headers, {}))
    assert isinstance(error, XRateLimited) and error.retry_at == NOW + 50_000


def test_a_retry_after_header_can_only_make_the_retry_later():
    later = post((429, {"x-rate-limit-reset": str(int(NOW + 60)), "retry-after": "120"}, {}))
    earlier = post((429, {"x-rate-limit-reset": str(int(NOW + 60)), "retry-after": "5"}, {}))
    assert later.retry_at == NOW + 120 and earlier.retry_at == NOW + 60


def test_429_without_any_reset_header_is_retryable_with_backoff():
    error = post((429, {}, {}))
    assert isinstance(error, XRateLimited) and error.retry_at is None and error.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_retryable_with_backoff(status):
    error = post((status, {}, {"title": "Service Unavailable"}))
    assert isinstance(error, XUnavailable) and error.retryable and error.retry_at is None
    assert error.status == status and str(status) in str(error)


def test_network_errors_are_retryable():
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    client = XClient(CREDENTIALS, "https://x.test", transport=httpx.MockTransport(refuse))
    with pytest.raises(XUnavailable, match="unreachable: ConnectError") as raised:
        client.post_tweet("Touchdown!")
    assert raised.value.retryable and raised.value.status is None


def test_403_duplicate_content_is_a_duplicate_never_retried():
    body = {"detail": "You are not allowed to create a Tweet with duplicate content.", "status": 403}
    error = post((403, {}, body))
    assert isinstance(error, XDuplicateContent) and error.duplicate
    assert not error.retryable and not error.hold_account


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_hold_the_account(status):
    error = post((status, {}, {"title": "Unauthorized" if status == 401 else "Forbidden"}))
    assert isinstance(error, XCredentialsRefused) and error.hold_account
    assert not error.retryable and not error.duplicate


@pytest.mark.parametrize("status", [400, 404, 422])
def test_other_client_errors_reject_the_tweet(status):
    error = post((status, {}, {"title": "Invalid Request"}))
    assert isinstance(error, XRequestRejected) and not error.retryable and not error.hold_account


def test_every_answer_updates_the_clients_limits():
    x = ScriptedX(
        (201, {"x-user-limit-24hour-remaining": "3"}, None), (503, {"x-user-limit-24hour-remaining": "2"}, {})
    )
    client = x.client()
    client.post_tweet("one")
    assert client.limits.day_remaining == 3
    with pytest.raises(XUnavailable):
        client.post_tweet("two")
    assert client.limits.day_remaining == 2


@pytest.mark.parametrize("value", ["soon", "nan", "inf", ""])
def test_unusable_header_values_read_as_absent(value):
    assert RateLimits.from_headers({"x-rate-limit-reset": value, "x-rate-limit-remaining": value}) == RateLimits()


def test_the_post_is_json_text_to_2_tweets_signed_like_oauthlib_signs_it():
    x = ScriptedX()
    x.client().post_tweet("Touchdown! 🏈")
    [request] = x.requests
    assert request.method == "POST" and str(request.url) == "https://x.test/2/tweets"
    assert json.loads(request.content) == {"text": "Touchdown! 🏈"}

    signer = OAuth1UserContext(CREDENTIALS, nonce=lambda: "fixednonce0123456789")
    ours = signer.authorization("POST", "https://x.test/2/tweets?a=1", request.content, 1_800_000_000)
    reference = OAuth1Client(
        "ck-nfl",
        client_secret="cs-s3cr3t",
        resource_owner_key="at-nfl",
        resource_owner_secret="ats-s3cr3t",
        nonce="fixednonce0123456789",
        timestamp="1800000000",
    ).sign(
        "https://x.test/2/tweets?a=1",
        "POST",
        body=request.content.decode(),
        headers={"Content-Type": "application/json"},
    )[1]["Authorization"]
    assert _params(ours) == _params(reference)
    assert "oauth_body_hash" in _params(ours) and "s3cr3t" not in ours


def _params(header: str) -> dict[str, str]:
    return dict(part.strip().split("=", 1) for part in header.removeprefix("OAuth ").split(","))


def test_a_string_is_an_oauth2_user_access_token():
    x = ScriptedX()
    x.client("user-access-token").post_tweet("Touchdown!")
    assert x.requests[0].headers["Authorization"] == "Bearer user-access-token"


def test_reprs_hide_the_credentials():
    shown = repr(OAuth1UserContext(CREDENTIALS)) + repr(CREDENTIALS) + repr(ScriptedX().client())
    assert "s3cr3t" not in shown and "ck-nfl" not in shown and "at-nfl" not in shown


# the per-account poster


def poster(accounts: dict[str, ScriptedX], clock, **kw) -> AccountPoster:
    clients = {name: x.client() for name, x in accounts.items()}
    return AccountPoster(clients, kw.pop("limit", RollingLimit(max_posts=2)), clock=clock, **kw)


def tweet(account: str, text: str = "Touchdown!"):
    return SimpleNamespace(account=account, text=text)


def test_each_account_posts_with_its_own_client_up_to_its_rolling_limit_without_asking_x_beyond():
    nfl, nba = ScriptedX(), ScriptedX()
    now = [NOW]
    p = poster({"NFL": nfl, "NBA": nba}, lambda: now[0])
    p.post(tweet("NFL"))
    now[0] += 60
    p.post(tweet("NFL"))
    p.post(tweet("NBA"))
    with pytest.raises(AccountLimitReached) as raised:
        p.post(tweet("NFL"))
    assert raised.value.retry_at == NOW + 86_400 and raised.value.retryable and not raised.value.sent
    assert (len(nfl.requests), len(nba.requests)) == (2, 1)
    now[0] = NOW + 86_400
    assert p.post(tweet("NFL")).tweet_id == "3"


def test_a_restart_counts_the_posts_of_the_last_24_hours_from_history():
    x = ScriptedX()
    p = poster({"NFL": x}, lambda: NOW, history={"NFL": [NOW - 90_000, NOW - 3_600, NOW - 60]})
    assert p.next_post_at("NFL") == NOW - 3_600 + 86_400
    with pytest.raises(AccountLimitReached):
        p.post(tweet("NFL"))
    assert x.requests == []


def test_a_window_x_reports_spent_blocks_the_account_until_its_reset():
    spent = {"x-user-limit-24hour-remaining": "0", "x-user-limit-24hour-reset": str(int(NOW + 7_200))}
    x = ScriptedX((201, spent, None))
    p = poster({"NFL": x}, lambda: NOW, limit=RollingLimit(max_posts=17))
    p.post(tweet("NFL"))
    with pytest.raises(AccountLimitReached) as raised:
        p.post(tweet("NFL"))
    assert raised.value.retry_at == NOW + 7_200 and len(x.requests) == 1


def test_a_429_blocks_the_account_until_the_reported_reset():
    x = ScriptedX((429, {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(NOW + 900))}, {}))
    p = poster({"NFL": x}, lambda: NOW)
    with pytest.raises(XRateLimited):
        p.post(tweet("NFL"))
    assert p.next_post_at("NFL") == NOW + 900


def test_refused_credentials_hold_only_that_account_until_released():
    nfl, nba = ScriptedX((401, {}, {"title": "Unauthorized"})), ScriptedX()
    p = poster({"NFL": nfl, "NBA": nba}, lambda: NOW, limit=RollingLimit(max_posts=17))
    with pytest.raises(XCredentialsRefused):
        p.post(tweet("NFL"))
    with pytest.raises(AccountHeld, match="'NFL' is held") as raised:
        p.post(tweet("NFL"))
    assert raised.value.hold_account and not raised.value.sent and len(nfl.requests) == 1
    assert p.post(tweet("NBA")).tweet_id == "1"
    p.release("NFL")
    assert p.post(tweet("NFL", "again")).tweet_id == "2"


def test_an_account_without_credentials_is_held_without_a_request():
    p = poster({}, lambda: NOW, unconfigured=["WNBA"])
    with pytest.raises(AccountHeld, match="'WNBA' has no credentials"):
        p.post(tweet("WNBA"))
    assert "WNBA" in p.held
