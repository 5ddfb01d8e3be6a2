"""Authentication (Bearer JWT or API key), scopes, and per-credential rate limiting (token buckets)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
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

__all__ = ["Authenticator", "CredentialError", "Principal", "RateLimiter"]


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


def _expiry(token: str) -> float:
    """The ``exp`` claim of a token whose signature was just verified."""
    return float(jwt.decode(token, options={"verify_signature": False})["exp"])


class Authenticator:
    """Checks an ``Authorization: Bearer`` JWT or an ``X-API-Key`` against the configured secret and hashed keys."""

    def __init__(self, jwt_secret: str | None, issuer: str, audience: str, api_keys: list[ApiKeyEntry] | None = None):
        if jwt_secret is not None and len(jwt_secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"WIREREPORT_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters for HS256")
        self.jwt_secret = jwt_secret
        self.issuer = issuer
        self.audience = audience
        self.api_keys = api_keys or []
        self._verified: dict[str, tuple[Principal, float]] = {}  # token -> (principal, exp): verify once

    @classmethod
    def from_settings(cls, settings) -> Authenticator:
        secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        keys = parse_api_keys(settings.api_keys.get_secret_value() if settings.api_keys else None)
        return cls(secret or None, settings.jwt_issuer, settings.jwt_audience, keys)

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
            return cached[0]
        principal = verify_token(token, self.jwt_secret, issuer=self.issuer, audience=self.audience)
        if len(self._verified) >= 10000:
            self._verified.clear()
        self._verified[token] = (principal, _expiry(token))
        return principal
