"""A fake X API v2 on a loopback port: ``POST /2/tweets`` with OAuth 1.0a user-context signatures checked.

Every request must be signed (HMAC-SHA1) with one account's four credentials, carry a fresh nonce and a timestamp
within 10 minutes, and an ``oauth_body_hash`` that matches its body; anything else is answered 401, as X does.
Each accepted post is recorded with the account that made it. Like X, the fake refuses an account's repeated
text (403 duplicate content), limits each account to ``posts_per_day`` in any rolling 24 hours and
``posts_per_window`` per fixed 15-minute window (429, reset headers, no ``Retry-After``), and reports the
``x-rate-limit-*`` and ``x-user-limit-24hour-*`` headers on every answer. Answers can be scripted per account, and
one text can be refused until the test says otherwise (X failing for that tweet only)::

    fake = FakeX({"NFL": nfl_credentials, "NBA": nba_credentials})
    fake.script("NFL", Answer.server_error(), Answer.rate_limited(reset_at=now + 900))
    fake.revoke("NBA")
    fake.fail_text("Touchdown!")  # 503 to every post of this text ...
    fake.heal_text("Touchdown!")  # ... until now
    with fake.serving() as base_url:
        ...
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint

from connectors.effectors.tweets.accounts import XCredentials
from connectors.testing.http_server import serving

DAY_SECONDS = 86_400.0
WINDOW_SECONDS = 900.0
_TOKEN_CHARACTERS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class Answer:
    """A scripted answer: ``status`` with ``body`` and extra ``headers`` (they override the fake's own)."""

    status: int
    body: dict
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def rate_limited(cls, reset_at: float, *, day: bool = False) -> Answer:
        """429 as X sends it: the spent window's remaining 0 and its reset, and no Retry-After."""
        prefix = "x-user-limit-24hour" if day else "x-rate-limit"
        headers = {f"{prefix}-remaining": "0", f"{prefix}-reset": str(int(reset_at))}
        return cls(429, _problem(429, "Too Many Requests", "Too Many Requests"), headers)

    @classmethod
    def server_error(cls, status: int = 503) -> Answer:
        return cls(status, _problem(status, "Service Unavailable", "Service Unavailable"))

    @classmethod
    def unauthorized(cls) -> Answer:
        return cls(401, _problem(401, "Unauthorized", "Unauthorized"))

    @classmethod
    def forbidden(cls) -> Answer:
        return cls(403, _problem(403, "Forbidden", "You are not permitted to perform this action."))

    @classmethod
    def duplicate(cls) -> Answer:
        return cls(403, _problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."))


@dataclass(frozen=True)
class FakePost:
    account: str
    text: str
    tweet_id: str
    at: float


@dataclass(frozen=True)
class FakeRequest:
    """One request: the account whose signature verified (None if none did), the answer's status, the text."""

    account: str | None
    status: int
    text: str | None


class _AccountKeys(RequestValidator):
    """Finds each request's secrets among the accounts' credentials; refuses a nonce seen before."""

    def __init__(self, accounts: Mapping[str, XCredentials]) -> None:
        super().__init__()
        self._accounts = accounts
        self._nonces: set[tuple[str, str, str, str | None]] = set()
        self._lock = threading.Lock()

    enforce_ssl = False  # the fake serves plain HTTP on loopback
    allowed_signature_methods = ("HMAC-SHA1",)
    dummy_client = "dummy-consumer-key"
    dummy_access_token = "dummy-access-token"

    def check_client_key(self, client_key: str) -> bool:
        return 0 < len(client_key) <= 200 and set(client_key) <= _TOKEN_CHARACTERS

    def check_access_token(self, token: str) -> bool:
        return self.check_client_key(token)

    def check_nonce(self, nonce: str) -> bool:
        return self.check_client_key(nonce)

    def validate_client_key(self, client_key: str, request) -> bool:
        return any(c.consumer_key.get_secret_value() == client_key for c in self._accounts.values())

    def get_client_secret(self, client_key: str, request) -> str:
        for credentials in self._accounts.values():
            if credentials.consumer_key.get_secret_value() == client_key:
                return credentials.consumer_secret.get_secret_value()
        return "dummy-consumer-secret"

    def get_access_token_secret(self, client_key: str, token: str, request) -> str:
        account = self.account_of(client_key, token)
        return self._accounts[account].access_token_secret.get_secret_value() if account else "dummy-token-secret"

    def validate_timestamp_and_nonce(
        self, client_key, timestamp, nonce, request, request_token=None, access_token=None
    ):
        key = (client_key, timestamp, nonce, request.resource_owner_key)
        with self._lock:
            if key in self._nonces:
                return False
            self._nonces.add(key)
        return True

    def account_of(self, client_key: str | None, token: str | None) -> str | None:
        """The account whose consumer key and access token these are."""
        for name, c in self._accounts.items():
            if c.consumer_key.get_secret_value() == client_key and c.access_token.get_secret_value() == token:
                return name
        return None


class FakeX:
    """The fake X API of ``accounts`` (name -> credentials). ``clock`` drives its limits (not the signature
    timestamps, which are checked against the real time as X does)."""

    def __init__(
        self,
        accounts: Mapping[str, XCredentials],
        *,
        posts_per_day: int = 17,
        posts_per_window: int = 100,
        refuse_duplicates: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.accounts = dict(accounts)
        self.posts_per_day = posts_per_day
        self.posts_per_window = posts_per_window
        self.refuse_duplicates = refuse_duplicates
        self.clock = clock
        self.posts: list[FakePost] = []
        self.requests: list[FakeRequest] = []
        self._keys = _AccountKeys(self.accounts)
        self._endpoint = SignatureOnlyEndpoint(self._keys)
        self._scripts: dict[str, deque[Answer]] = {name: deque() for name in self.accounts}
        self._revoked: set[str] = set()
        self._failing: dict[str, Answer] = {}  # text -> the answer to every post of it
        self._lock = threading.Lock()

    def script(self, account: str, *answers: Answer) -> None:
        """Answer ``account``'s next signed requests with ``answers``, in order (then as usual)."""
        with self._lock:
            self._scripts[account].extend(answers)

    def revoke(self, account: str) -> None:
        """Answer 401 to every request of ``account`` from now on (its access token was revoked)."""
        with self._lock:
            self._revoked.add(account)

    def fail_text(self, text: str, answer: Answer | None = None) -> None:
        """Answer every signed post of ``text`` with ``answer`` (default 503) until :meth:`heal_text`; the other
        texts are answered as usual (after an account's scripted answers, which come first)."""
        with self._lock:
            self._failing[text] = answer or Answer.server_error()

    def heal_text(self, text: str) -> None:
        """Answer posts of ``text`` as usual again."""
        with self._lock:
            self._failing.pop(text, None)

    def posts_of(self, account: str) -> list[str]:
        """The texts ``account`` posted, in order."""
        return [p.text for p in self.posts if p.account == account]

    @contextmanager
    def serving(self) -> Iterator[str]:
        """Serve on a free loopback port; yields the base URL (``WIREREPORT_X_API_BASE_URL``)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                uri = f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}"
                self._reply(*fake.handle("POST", uri, dict(self.headers.items()), body))

            def do_GET(self) -> None:
                self._reply(405, _problem(405, "Method Not Allowed", "Only POST /2/tweets is served"), {})

            def _reply(self, status: int, payload: dict, headers: Mapping[str, str]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args) -> None:  # quiet: tests read fake.requests
                pass

        with serving(Handler) as url:
            yield url

    def handle(self, method: str, uri: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict, dict]:
        """One request: (status, JSON body, headers) of the answer."""
        path = uri.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
        if method != "POST" or path != "2/tweets":
            return 404, _problem(404, "Not Found", f"No route for {method} /{path}"), {}
        account = self._authenticate(method, uri, headers, body)
        text = _text(body)
        with self._lock:
            status, payload, extra = self._answer(account, text)
            self.requests.append(FakeRequest(account, status, text))
        return status, payload, extra

    def _authenticate(self, method: str, uri: str, headers: Mapping[str, str], body: bytes) -> str | None:
        """The account that signed the request, or None (unsigned, another account's keys, a replayed nonce, a
        stale timestamp, or a body other than the one signed)."""
        try:
            valid, request = self._endpoint.validate_request(uri, method, body.decode("utf-8"), dict(headers))
        except (UnicodeDecodeError, ValueError):
            return None
        if not valid or request is None:
            return None
        expected_hash = base64.b64encode(hashlib.sha1(body).digest()).decode()  # the body-hash extension is SHA-1
        if request.oauth_params.get("oauth_body_hash") != expected_hash:
            return None
        return self._keys.account_of(request.client_key, request.resource_owner_key)

    def _answer(self, account: str | None, text: str | None) -> tuple[int, dict, dict]:
        if account is None or account in self._revoked:
            return 401, _problem(401, "Unauthorized", "Unauthorized"), {}
        now = self.clock()
        headers = self._limit_headers(account, now)
        if self._scripts[account]:
            answer = self._scripts[account].popleft()
            return answer.status, answer.body, {**headers, **answer.headers}
        failing = self._failing.get(text) if text is not None else None
        if failing is not None:
            return failing.status, failing.body, {**headers, **failing.headers}
        if not text or len(text) > 280:
            return 400, _problem(400, "Invalid Request", "The text must be 1 to 280 characters."), headers
        if self.refuse_duplicates and text in self.posts_of(account):
            return Answer.duplicate().status, Answer.duplicate().body, headers
        if headers["x-user-limit-24hour-remaining"] == "0" or headers["x-rate-limit-remaining"] == "0":
            return 429, _problem(429, "Too Many Requests", "Too Many Requests"), headers
        tweet_id = str(1_000_000_000_000_000_000 + len(self.posts) + 1)
        self.posts.append(FakePost(account, text, tweet_id, now))
        headers = self._limit_headers(account, now)
        return 201, {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}, headers

    def _limit_headers(self, account: str, now: float) -> dict[str, str]:
        """The 15-minute window (fixed, as X's) and the rolling 24 hours of ``account`` at ``now``."""
        times = [p.at for p in self.posts if p.account == account]
        day = sorted(t for t in times if t > now - DAY_SECONDS)
        # the 24-hour count falls below the limit when the post that filled it leaves the window
        if len(day) >= self.posts_per_day > 0:
            day_reset = day[-self.posts_per_day] + DAY_SECONDS
        else:
            day_reset = (day[0] if day else now) + DAY_SECONDS
        window_start = now - now % WINDOW_SECONDS
        in_window = sum(1 for t in times if window_start <= t < window_start + WINDOW_SECONDS)
        return {
            "x-rate-limit-limit": str(self.posts_per_window),
            "x-rate-limit-remaining": str(max(0, self.posts_per_window - in_window)),
            "x-rate-limit-reset": str(int(window_start + WINDOW_SECONDS)),
            "x-user-limit-24hour-limit": str(self.posts_per_day),
            "x-user-limit-24hour-remaining": str(max(0, self.posts_per_day - len(day))),
            "x-user-limit-24hour-reset": str(math.ceil(day_reset)),
        }


def _problem(status: int, title: str, detail: str) -> dict:
    return {"title": title, "detail": detail, "type": "about:blank", "status": status}


def _text(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    text = document.get("text") if isinstance(document, dict) else None
    return text if isinstance(text, str) else None
