"""Credentials of the API: HS256 JWTs for operators and hashed API keys for league servers.

Pure functions (clock injected) so the CLI (``wirereport auth``) and the API share one implementation.
Scopes: ``read`` and ``admin`` (``admin`` implies ``read``); ``deploy:force`` lets an admin skip the deployment
safety checks (``admin`` alone does not); ``league:NFL`` restricts a credential to a league. Token lifetimes are
bounded (``WIREREPORT_MAX_TOKEN_TTL_SECONDS``) and every token carries a ``jti`` so that it can be revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import jwt

from connectors.exceptions import InputError

ALGORITHM = "HS256"
MIN_SECRET_LENGTH = 32  # RFC 7518 3.2: an HS256 key must be at least 256 bits
FORCE_SCOPE = "deploy:force"
KNOWN_SCOPES = ("read", "admin", FORCE_SCOPE)
ACCESS_SCOPES = ("read", "admin")  # a credential needs one of these; the others only add to them
DEFAULT_MAX_TTL_SECONDS = 30 * 86400
LEAGUES = ("NFL", "NBA", "WNBA")
_TTL = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class CredentialError(Exception):
    """A credential is missing, malformed, expired or not ours (the API answers 401)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a subject, its scopes and the leagues it may touch (None: all)."""

    subject: str
    scopes: frozenset[str]
    leagues: frozenset[str] | None = None
    kind: str = "token"  # token or api_key
    token_id: str | None = None  # the ``jti`` of a token (what a revocation names)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or (scope == "read" and "admin" in self.scopes)

    def may_see(self, league: str | None) -> bool:
        """Object-level check: a league-bound credential sees and acts only on its own leagues' objects; an
        object of no league (a global alert, an all-leagues deployment) is not its own either."""
        return self.leagues is None or (league is not None and league in self.leagues)

    @property
    def rate_key(self) -> str:
        return f"{self.kind}:{self.subject}"


@dataclass(frozen=True)
class ApiKeyEntry:
    """One configured API key: its name, the SHA-256 of the key (hex) and its scopes."""

    name: str
    sha256: bytes
    scopes: frozenset[str] = field(default_factory=frozenset)


def parse_ttl(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``1h``, ``7d`` -> seconds."""
    match = _TTL.match(text or "")
    if not match or int(match[1]) <= 0:
        raise InputError(f"bad --ttl {text!r}: use a positive number with s, m, h or d (e.g. 1h)")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def parse_scopes(text: str | list[str] | tuple[str, ...]) -> frozenset[str]:
    """``read,admin`` / ``read+league:NFL`` -> validated scope set."""
    items = text if isinstance(text, list | tuple) else re.split(r"[,+| ]+", text or "")
    scopes = frozenset(s.strip() for s in items if s and s.strip())
    for scope in scopes:
        if scope in KNOWN_SCOPES:
            continue
        if scope.startswith("league:") and scope.split(":", 1)[1] in LEAGUES:
            continue
        raise InputError(f"unknown scope {scope!r}; use read, admin, {FORCE_SCOPE} or league:NFL|NBA|WNBA")
    if not scopes & set(ACCESS_SCOPES):
        raise InputError("a credential needs at least one of the scopes read, admin")
    return scopes


def _leagues_of(scopes: frozenset[str]) -> frozenset[str] | None:
    leagues = frozenset(s.split(":", 1)[1] for s in scopes if s.startswith("league:"))
    return leagues or None


def _check_secret(secret: str | None) -> str:
    if not secret:
        raise InputError("WIREREPORT_JWT_SECRET is not set (export a random string of 32+ characters)")
    if len(secret) < MIN_SECRET_LENGTH:
        raise InputError(f"WIREREPORT_JWT_SECRET is too short: HS256 needs at least {MIN_SECRET_LENGTH} characters")
    return secret


def mint_token(
    secret: str | None,
    subject: str,
    scopes: str | list[str],
    *,
    ttl_seconds: int = 3600,
    issuer: str,
    audience: str,
    now: float | None = None,
    max_ttl_seconds: int = DEFAULT_MAX_TTL_SECONDS,
) -> str:
    """A signed HS256 JWT with ``sub``, ``scope`` (space separated), ``iat``, ``nbf``, ``exp``, ``iss``, ``aud``, ``jti``."""
    secret = _check_secret(secret)
    if not subject or not subject.strip():
        raise InputError("--subject must not be empty")
    if ttl_seconds <= 0:
        raise InputError("the token lifetime must be positive")
    if ttl_seconds > max_ttl_seconds:
        raise InputError(
            f"token lifetime {ttl_seconds}s is longer than WIREREPORT_MAX_TOKEN_TTL_SECONDS ({max_ttl_seconds}s)"
        )
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": subject.strip(),
        "scope": " ".join(sorted(parse_scopes(scopes))),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "iss": issuer,
        "aud": audience,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(
    token: str,
    secret: str | None,
    *,
    issuer: str,
    audience: str,
    now: float | None = None,
    leeway: float = 5.0,
    max_ttl_seconds: int | None = None,
) -> Principal:
    """Check signature (HS256 only), expiry, not-before, issuer, audience and lifetime; return the principal."""
    if not secret:
        raise CredentialError("bearer tokens are not accepted: no JWT secret configured")
    options = {"require": ["exp", "iat", "iss", "aud", "sub", "jti"]}
    try:
        if now is not None:  # deterministic checks in tests: verify exp/nbf ourselves against ``now``
            claims = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                issuer=issuer,
                audience=audience,
                options={**options, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
            if claims["exp"] + leeway < now:
                raise jwt.ExpiredSignatureError("Signature has expired")
            if max(claims.get("nbf", 0), claims["iat"]) - leeway > now:
                raise jwt.ImmatureSignatureError("The token is not yet valid (nbf)")
        else:
            claims = jwt.decode(
                token, secret, algorithms=[ALGORITHM], issuer=issuer, audience=audience, leeway=leeway, options=options
            )
    except jwt.ExpiredSignatureError:
        raise CredentialError("token expired") from None
    except jwt.InvalidAudienceError:
        raise CredentialError("token audience is not this API") from None
    except jwt.InvalidIssuerError:
        raise CredentialError("token issuer is not trusted") from None
    except jwt.InvalidTokenError as exc:
        raise CredentialError(f"invalid token: {exc}") from None
    if max_ttl_seconds is not None and claims["exp"] - claims["iat"] > max_ttl_seconds:
        # a token minted before the bound (or by hand) must not outlive it
        raise CredentialError(f"token lifetime exceeds the allowed {max_ttl_seconds}s")
    try:
        scopes = parse_scopes(str(claims.get("scope", "")))
    except InputError as exc:
        raise CredentialError(f"invalid token scopes: {exc}") from None
    return Principal(str(claims["sub"]), scopes, _leagues_of(scopes), "token", str(claims["jti"]))


def hash_key(key: str) -> str:
    """SHA-256 hex digest of an API key: what ``WIREREPORT_API_KEYS`` stores instead of the key."""
    if not key or len(key) < 16:
        raise InputError(
            "an API key must be at least 16 characters (use: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return hashlib.sha256(key.encode()).hexdigest()


def parse_api_keys(text: str | None) -> list[ApiKeyEntry]:
    """``name:sha256hex:read+admin,name2:...`` -> entries (scopes separated by ``+`` or ``|``)."""
    entries = []
    for raw in (text or "").split(","):
        raw = raw.strip()
        if not raw:
            continue
        parts = raw.split(":", 2)
        if len(parts) != 3 or not parts[0]:
            raise InputError(f"bad WIREREPORT_API_KEYS entry {parts[0]!r}...: expected name:sha256hex:scopes")
        name, digest, scopes = parts
        if not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
            raise InputError(f"bad WIREREPORT_API_KEYS entry {name!r}: the hash must be 64 hex digits (sha256)")
        entries.append(ApiKeyEntry(name, bytes.fromhex(digest), parse_scopes(scopes.replace("|", "+"))))
    return entries


def verify_api_key(key: str, entries: list[ApiKeyEntry]) -> Principal:
    """Find the entry whose hash matches ``key`` (constant-time comparison against every entry)."""
    digest = hashlib.sha256(key.encode()).digest()
    found = None
    for entry in entries:  # no early exit: the time does not depend on which entry matches
        if hmac.compare_digest(digest, entry.sha256):
            found = entry
    if found is None:
        raise CredentialError("unknown API key")
    return Principal(found.name, found.scopes, _leagues_of(found.scopes), "api_key")


_JTI = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


def revocation(jti: str, *, revoked_by: str, reason: str, now: datetime) -> dict:
    """A ``TokenRevocation`` record (topic ``token-revocations``, key ``jti``)."""
    if not _JTI.match(jti or ""):
        raise InputError(f"bad jti {jti[:40]!r}: a token's jti is 1-128 letters, digits, '_' or '-'")
    return {"jti": jti, "revoked_at": now, "revoked_by": revoked_by, "reason": reason[:500]}
