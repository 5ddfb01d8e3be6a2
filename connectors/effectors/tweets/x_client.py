"""The X API v2 client of one account: ``POST {base}/2/tweets`` with user-context credentials (httpx).

User context is OAuth 1.0a (the account's consumer key pair and access token, each request signed HMAC-SHA1
with oauthlib's signature functions, the JSON body covered by ``oauth_body_hash``) or an OAuth 2.0 user access token (a bearer string).
Every answer's rate-limit headers become ``RateLimits`` (on the posted tweet, on the error and on
``XClient.limits``). Outcomes:

- 201: ``PostedTweet`` (tweet id)
- 429: ``XRateLimited``, retryable, ``retry_at`` = the reset X reports (the 24-hour one when that is spent), never
  earlier; X sends no ``Retry-After`` (one sent anyway only pushes ``retry_at`` later)
- 5xx, 408, network: ``XUnavailable``, retryable with backoff
- 403 "duplicate content": ``XDuplicateContent`` (recorded, never retried)
- 401, other 403: ``XCredentialsRefused`` (the account's posting must hold until its credentials are fixed)
- other 4xx: ``XRequestRejected`` (this tweet can never be posted as it is)
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
from oauthlib.common import generate_nonce
from oauthlib.oauth1.rfc5849 import signature
from oauthlib.oauth1.rfc5849.parameters import prepare_headers

from connectors.exceptions import ConnectorError

if TYPE_CHECKING:
    from connectors.effectors.tweets.accounts import XCredentials

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.x.com"
TWEETS_PATH = "/2/tweets"


@dataclass(frozen=True)
class RateLimits:
    """What one X answer said about the account's limits: the 15-minute window (``x-rate-limit-*``) and the
    24-hour user window (``x-user-limit-24hour-*``); resets are epoch seconds; None where X sent no header."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None
    day_limit: int | None = None
    day_remaining: int | None = None
    day_reset: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimits:
        return cls(
            limit=_int(headers.get("x-rate-limit-limit")),
            remaining=_int(headers.get("x-rate-limit-remaining")),
            reset=_float(headers.get("x-rate-limit-reset")),
            day_limit=_int(headers.get("x-user-limit-24hour-limit")),
            day_remaining=_int(headers.get("x-user-limit-24hour-remaining")),
            day_reset=_float(headers.get("x-user-limit-24hour-reset")),
        )

    @property
    def exhausted(self) -> bool:
        """No post is left in one of the windows."""
        return self.remaining == 0 or self.day_remaining == 0

    def blocked_until(self) -> float | None:
        """When the spent window resets (the 24-hour one when that is spent, else the 15-minute one); None when X
        reported no reset for it."""
        if self.day_remaining == 0 and self.day_reset is not None:
            return self.day_reset
        return self.reset


class XApiError(ConnectorError):
    """The X API refused or failed a post. ``retryable``: trying again may help, not before ``retry_at`` (epoch
    seconds) when set, ``retry_after`` seconds from when it was raised; ``duplicate``: X refused the text as a
    duplicate of an earlier tweet of the account; ``hold_account``: the account's credentials were refused."""

    retryable = False
    duplicate = False
    hold_account = False
    sent = True  # the request reached X (False: refused before any request was made)

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        limits: RateLimits | None = None,
        retry_at: float | None = None,
        now: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.limits = limits or RateLimits()
        self.retry_at = retry_at
        now = time.time() if now is None else now
        self.retry_after = max(0.0, retry_at - now) if retry_at is not None else None


class XRateLimited(XApiError):
    """429: the account spent a window; post again at ``retry_at``."""

    retryable = True


class XUnavailable(XApiError):
    """A network error, a timeout or a 5xx answer: retry with backoff."""

    retryable = True


class XDuplicateContent(XApiError):
    """403: the account already posted this text; never retried."""

    duplicate = True


class XCredentialsRefused(XApiError):
    """401, or a 403 other than a duplicate: the account's credentials (or their permissions) were refused."""

    hold_account = True


class XRequestRejected(XApiError):
    """Another 4xx (e.g. 400 for a text X does not accept): this tweet cannot be posted as it is."""


@dataclass(frozen=True)
class PostedTweet:
    tweet_id: str
    text: str
    limits: RateLimits = field(default_factory=RateLimits)


class OAuth1UserContext(httpx.Auth):
    """Signs each request with the account's OAuth 1.0a user-context credentials: HMAC-SHA1 over the method, URL,
    query and protocol parameters (fresh nonce and timestamp), the JSON body covered by ``oauth_body_hash``
    (RFC 5849 with the body-hash extension, as X and tweepy do). Built from oauthlib's signature functions rather
    than its ``Client.sign``, which logs the signature base string (with the consumer key and access token)."""

    requires_request_body = True

    def __init__(self, credentials: XCredentials, *, nonce: Callable[[], str] = generate_nonce) -> None:
        self._credentials = credentials
        self._nonce = nonce

    def authorization(self, method: str, url: str, body: bytes, timestamp: int) -> str:
        """The ``Authorization`` header of one request."""
        c = self._credentials
        protocol = [
            ("oauth_consumer_key", c.consumer_key.get_secret_value()),
            ("oauth_nonce", self._nonce()),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", str(timestamp)),
            ("oauth_token", c.access_token.get_secret_value()),
            ("oauth_version", "1.0"),
        ]
        if body:
            # the body-hash extension is defined with SHA-1 only
            protocol.append(("oauth_body_hash", base64.b64encode(hashlib.sha1(body).digest()).decode()))
        query = signature.collect_parameters(uri_query=urlsplit(url).query)
        base = signature.signature_base_string(
            method.upper(), signature.base_string_uri(url), signature.normalize_parameters(query + protocol)
        )
        signed = signature.sign_hmac_sha1(
            base, c.consumer_secret.get_secret_value(), c.access_token_secret.get_secret_value()
        )
        return prepare_headers([*protocol, ("oauth_signature", signed)])["Authorization"]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        timestamp = int(time.time())  # X checks it against its own clock, whatever clock the caller injects
        request.headers["Authorization"] = self.authorization(
            request.method, str(request.url), request.content, timestamp
        )
        yield request

    def __repr__(self) -> str:
        return "OAuth1UserContext(<credentials hidden>)"


class BearerUserToken(httpx.Auth):
    """``Authorization: Bearer`` with an OAuth 2.0 user access token (authorization code with PKCE)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerUserToken(<token hidden>)"


class XClient:
    """Posts the tweets of one account: ``XClient(credentials)`` signs with OAuth 1.0a; a string is taken as an
    OAuth 2.0 user access token. ``limits`` holds the rate limits of the latest answer."""

    def __init__(
        self,
        credentials: XCredentials | str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        *,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        auth = BearerUserToken(credentials) if isinstance(credentials, str) else OAuth1UserContext(credentials)
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            auth=auth,
            headers={"User-Agent": "wirereport-publisher"},
            transport=transport,
        )
        self.clock = clock
        self.limits = RateLimits()

    def post_tweet(self, text: str) -> PostedTweet:
        """Post ``text``; raises an XApiError subclass for every other outcome than 200/201 (see the module)."""
        try:
            response = self._client.post(TWEETS_PATH, json={"text": text})
        except httpx.HTTPError as exc:
            raise XUnavailable(f"X API unreachable: {exc.__class__.__name__}") from None
        now = self.clock()
        self.limits = limits = RateLimits.from_headers(response.headers)
        status = response.status_code
        if status in (200, 201):
            data = _json(response).get("data") or {}
            return PostedTweet(tweet_id=str(data.get("id", "")), text=str(data.get("text", text)), limits=limits)
        detail = response.text[:200].replace("\n", " ")
        message = f"X API answered {status}: {detail}"
        if status == 429:
            raise XRateLimited(
                message, status=status, limits=limits, retry_at=_retry_at(response, limits, now), now=now
            )
        if status >= 500 or status == 408:
            raise XUnavailable(message, status=status, limits=limits)
        if status == 403 and "duplicate content" in response.text.lower():
            raise XDuplicateContent(message, status=status, limits=limits)
        if status in (401, 403):
            raise XCredentialsRefused(message, status=status, limits=limits)
        raise XRequestRejected(message, status=status, limits=limits)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> XClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _retry_at(response: httpx.Response, limits: RateLimits, now: float) -> float | None:
    """The reset X reported for the spent window; a Retry-After (X sends none) can only make it later."""
    candidates = [t for t in (limits.blocked_until(), _retry_after_at(response, now)) if t is not None]
    return max(candidates) if candidates else None


def _retry_after_at(response: httpx.Response, now: float) -> float | None:
    seconds = _float(response.headers.get("retry-after"))
    return now + seconds if seconds is not None else None


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _float(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _int(value: str | None) -> int | None:
    number = _float(value)
    return int(number) if number is not None else None
