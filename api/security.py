"""Authentication (Bearer JWT or API key), revocation, failed-credential lockouts, per-credential rate limits."""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import jwt

from connectors.auth.tokens import (
    MIN_SECRET_LENGTH,
    ApiKeyEntry,
    CredentialError,
    Principal,
    parse_api_keys,
    verify_api_key,
    verify_token,
)

__all__ = ["Authenticator", "CredentialError", "FailureThrottle", "Principal", "RateLimiter", "credential_identity"]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per key: ``rate`` tokens/s refill up to ``burst``; least recently used keys are forgotten."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 10000):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens of ``key``'s bucket; return 0 if allowed, else the seconds to wait."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.rate

    @staticmethod
    def retry_after(wait: float) -> str:
        """``Retry-After`` header value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(wait)))


@dataclass
class _Failures:
    count: int
    last: float
    locked_until: float


class FailureThrottle:
    """Lockouts after failed credentials, looked up BEFORE a credential is checked (a locked-out client gets
    429 even with the right key, so guessing cannot be told apart from waiting).

    Keys are a client address or a credential identity. After ``free`` consecutive failures of a key, each
    further failure locks it for ``base`` seconds doubling per failure up to ``cap``. A success forgets an
    identity's failures but not an address's (a valid low-privilege key must not reset someone's guessing);
    an address's failures are forgotten after ``cap`` seconds without one.
    """

    def __init__(
        self,
        free: int = 5,
        base: float = 1.0,
        cap: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ):
        if free < 1 or base <= 0 or cap < base:
            raise ValueError("free must be >= 1 and 0 < base <= cap")
        self.free = free
        self.base = base
        self.cap = cap
        self.clock = clock
        self.max_keys = max_keys
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def _current(self, key: str, now: float) -> _Failures | None:
        entry = self._failures.get(key)
        if entry is not None and now - entry.last > self.cap and now >= entry.locked_until:
            del self._failures[key]
            return None
        return entry

    def locked_for(self, keys: Iterable[str]) -> float:
        """Seconds until every key in ``keys`` may try again (0: not locked)."""
        now = self.clock()
        waits = [e.locked_until - now for k in keys if (e := self._current(k, now)) is not None]
        return max([0.0, *waits])

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        for key in keys:
            entry = self._current(key, now)
            if entry is None:
                entry = self._failures[key] = _Failures(0, now, now)
                if len(self._failures) > self.max_keys:
                    self._failures.popitem(last=False)
            self._failures.move_to_end(key)
            entry.count += 1
            entry.last = now
            if entry.count >= self.free:
                entry.locked_until = now + min(self.cap, self.base * 2 ** (entry.count - self.free))

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


def credential_identity(authorization: str | None, api_key: str | None) -> str | None:
    """Who a presented credential claims to be, without trusting it: a token's ``sub`` (unverified), an API key's
    digest. Failures are charged to it so that one identity cannot be guessed at from many addresses."""
    if api_key:
        return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        subject = jwt.decode(token.strip(), options={"verify_signature": False}).get("sub")
    except jwt.InvalidTokenError:
        subject = None
    if isinstance(subject, str) and subject:
        return "sub:" + subject[:200]
    return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:16]


def _expiry(token: str) -> float:
    """The ``exp`` claim of a token whose signature was just verified."""
    return float(jwt.decode(token, options={"verify_signature": False})["exp"])


class Authenticator:
    """Checks an ``Authorization: Bearer`` JWT or an ``X-API-Key`` against the configured secret and hashed keys."""

    def __init__(
        self,
        jwt_secret: str | None,
        issuer: str,
        audience: str,
        api_keys: list[ApiKeyEntry] | None = None,
        *,
        max_ttl_seconds: int | None = None,
        is_revoked: Callable[[str], bool] = lambda jti: False,
    ):
        if jwt_secret is not None and len(jwt_secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"WIREREPORT_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters for HS256")
        self.jwt_secret = jwt_secret
        self.issuer = issuer
        self.audience = audience
        self.api_keys = api_keys or []
        self.max_ttl_seconds = max_ttl_seconds
        self.is_revoked = is_revoked
        self._verified: dict[str, tuple[Principal, float]] = {}  # token -> (principal, exp): verify once

    @classmethod
    def from_settings(cls, settings, is_revoked: Callable[[str], bool] = lambda jti: False) -> Authenticator:
        secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        keys = parse_api_keys(settings.api_keys.get_secret_value() if settings.api_keys else None)
        return cls(
            secret or None,
            settings.jwt_issuer,
            settings.jwt_audience,
            keys,
            max_ttl_seconds=settings.max_token_ttl_seconds,
            is_revoked=is_revoked,
        )

    @property
    def configured(self) -> bool:
        return bool(self.jwt_secret or self.api_keys)

    def authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        """The caller's principal, or ``CredentialError`` (401) with a reason safe to show."""
        if api_key:
            return verify_api_key(api_key, self.api_keys)
        if not authorization:
            raise CredentialError("missing credentials: send 'Authorization: Bearer <token>' or 'X-API-Key'")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CredentialError("unsupported authorization scheme: use 'Bearer <token>'")
        token = token.strip()
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            principal = cached[0]
        else:
            principal = verify_token(
                token, self.jwt_secret, issuer=self.issuer, audience=self.audience, max_ttl_seconds=self.max_ttl_seconds
            )
            if len(self._verified) >= 10000:
                self._verified.clear()
            self._verified[token] = (principal, _expiry(token))
        if principal.token_id is not None and self.is_revoked(principal.token_id):  # checked on every request
            raise CredentialError("token revoked")
        return principal


class StreamSlots:
    """Open SSE streams, counted when a stream is admitted (not when its generator first runs): at most
    ``total`` in all and ``per_key`` per credential; ``release`` is idempotent per admission."""

    def __init__(self, total: int, per_key: int):
        self.total = total
        self.per_key = per_key
        self.open = 0
        self._by_key: dict[str, int] = {}

    def admit(self, key: str) -> Callable[[], None] | None:
        """A release callback, or None if a cap is reached."""
        if self.open >= self.total or self._by_key.get(key, 0) >= self.per_key:
            return None
        self.open += 1
        self._by_key[key] = self._by_key.get(key, 0) + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self.open -= 1
            left = self._by_key[key] - 1
            if left:
                self._by_key[key] = left
            else:
                del self._by_key[key]

        return release

    def of(self, key: str) -> int:
        return self._by_key.get(key, 0)
