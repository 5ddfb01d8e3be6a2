"""The X accounts Wire Report posts to, each with its own OAuth 1.0a user-context credentials.

The declared accounts are one per league (``NFL``, ``NBA``, ``WNBA``) plus every account named in the accounts
file (``WIREREPORT_X_ACCOUNTS_FILE``), e.g. a team account::

    {"NFL": {"consumer_key": "...", "consumer_secret": "...", "access_token": "...", "access_token_secret": "..."},
     "NFL-PHI": {...}}

Any field may instead (or also: the environment wins) come from ``WIREREPORT_X_<ACCOUNT>_<FIELD>``, the account
name upper-cased with every other character than A-Z and 0-9 as ``_`` (``WIREREPORT_X_NFL_PHI_ACCESS_TOKEN``).
An account with no credentials at all is unconfigured (its tweets cannot be posted); one with some but not all
four fields is an error. Every credential is a ``SecretStr``: never logged, never in a repr, and no error message
ever holds a value, only the file, the account and the field.

``AccountPoster`` posts each account's tweets with that account's own client and never beyond its limits.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from connectors.effectors.tweets.rolling_limit import RollingLimit
from connectors.effectors.tweets.x_client import (
    DEFAULT_BASE_URL,
    PostedTweet,
    RateLimits,
    XApiError,
    XClient,
    XCredentialsRefused,
    XRateLimited,
)
from connectors.exceptions import InputError

log = logging.getLogger(__name__)

LEAGUE_ACCOUNTS = ("NFL", "NBA", "WNBA")
CREDENTIAL_FIELDS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
ENV_PREFIX = "WIREREPORT_X_"
_ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class AccountsError(InputError):
    """The X accounts configuration is unusable; the message names the file or variable, account and field."""


class XCredentials(BaseModel):
    """One account's OAuth 1.0a user-context credentials (the app's consumer key pair, the user's access token)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    consumer_key: SecretStr = Field(min_length=1)
    consumer_secret: SecretStr = Field(min_length=1)
    access_token: SecretStr = Field(min_length=1)
    access_token_secret: SecretStr = Field(min_length=1)

    def secret_values(self) -> list[str]:
        return [getattr(self, name).get_secret_value() for name in CREDENTIAL_FIELDS]


@dataclass(frozen=True)
class XAccounts(Mapping[str, XCredentials]):
    """The declared accounts: ``configured`` maps each account with credentials to them; ``unconfigured``
    lists the declared accounts without any."""

    configured: Mapping[str, XCredentials]
    unconfigured: tuple[str, ...] = ()

    def __getitem__(self, account: str) -> XCredentials:
        return self.configured[account]

    def __iter__(self) -> Iterator[str]:
        return iter(self.configured)

    def __len__(self) -> int:
        return len(self.configured)

    @property
    def declared(self) -> tuple[str, ...]:
        return tuple(self.configured) + self.unconfigured

    def secret_values(self) -> list[str]:
        """Every credential value, for the log redaction filter."""
        return [value for credentials in self.configured.values() for value in credentials.secret_values()]

    def __repr__(self) -> str:
        return f"XAccounts(configured={sorted(self.configured)}, unconfigured={list(self.unconfigured)})"


def env_name(account: str, field_name: str) -> str:
    """The environment variable of one credential field of ``account``."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", account.upper()) + "_" + field_name.upper()


def load_accounts(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    declared: Iterable[str] = LEAGUE_ACCOUNTS,
) -> XAccounts:
    """The declared accounts and their credentials from the accounts file at ``path`` (optional) and ``environ``
    (default ``os.environ``). Raises AccountsError, naming the file or variable, the account and the field."""
    environ = os.environ if environ is None else environ
    from_file = _read_file(Path(path)) if path else {}
    names = list(dict.fromkeys([*declared, *from_file]))
    configured: dict[str, XCredentials] = {}
    unconfigured: list[str] = []
    for account in names:
        fields = dict(from_file.get(account, {}))
        sources = {name: _file_label(path) for name in fields}
        for name in CREDENTIAL_FIELDS:
            if env_name(account, name) in environ:
                fields[name] = environ[env_name(account, name)]
                sources[name] = env_name(account, name)
        if not fields:
            unconfigured.append(account)
            continue
        configured[account] = _credentials(account, fields, sources, path if account in from_file else None)
    return XAccounts(configured, tuple(unconfigured))


def accounts_from_settings(settings, environ: Mapping[str, str] | None = None) -> XAccounts:
    """The accounts of ``settings.x_accounts_file`` and the per-account environment variables."""
    return load_accounts(settings.x_accounts_file, environ)


def account_secrets(settings) -> list[str]:
    """Every configured credential value, for the log redaction filter; none when the configuration is unusable
    (the publisher reports that itself, and no other command reads the credentials)."""
    try:
        return accounts_from_settings(settings).secret_values()
    except AccountsError:
        return []


def _file_label(path: str | Path | None) -> str:
    return f"{ENV_PREFIX}ACCOUNTS_FILE {path}"


def _read_file(path: Path) -> dict[str, dict]:
    where = _file_label(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AccountsError(f"{where}: cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    except UnicodeDecodeError:
        raise AccountsError(f"{where}: is not UTF-8 text") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        # only the position: the parser's excerpt of the document could hold a secret
        raise AccountsError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(document, dict):
        raise AccountsError(f"{where}: must be a JSON object mapping each account name to its credentials")
    for account, fields in document.items():
        if not _ACCOUNT_NAME.match(account):
            raise AccountsError(f"{where}: account name {account[:64]!r} must be 1-64 letters, digits, '.', '_' or '-'")
        if not isinstance(fields, dict):
            raise AccountsError(f"{where}: account {account!r}: must be an object with {', '.join(CREDENTIAL_FIELDS)}")
    return document


def _credentials(account: str, fields: dict, sources: dict[str, str], path: str | Path | None) -> XCredentials:
    """Validated credentials; an error names where each bad field came from (a missing one: where to put it)."""
    try:
        return XCredentials.model_validate(fields)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = ".".join(str(part) for part in error["loc"]) or "?"
            if error["type"] == "missing":
                where = _file_label(path) if path else f"{env_name(account, name)} (or {ENV_PREFIX}ACCOUNTS_FILE)"
            else:
                where = sources.get(name, _file_label(path))
            problems.append(f"{where}: account {account!r}: field {name!r} {_problem(error['type'])}")
        raise AccountsError("; ".join(problems)) from None


def _problem(error_type: str) -> str:
    if error_type == "missing":
        return "is missing"
    if error_type == "extra_forbidden":
        return f"is not a credential field (expected {', '.join(CREDENTIAL_FIELDS)})"
    if error_type == "too_short":
        return "is empty"
    return "must be a string"


class AccountLimitReached(XRateLimited):
    """Refused before any request: the account's rolling limit, or a window X reported spent, holds until
    ``retry_at``."""

    sent = False


class AccountHeld(XCredentialsRefused):
    """Refused before any request: X refused the account's credentials earlier."""

    sent = False


class AccountNotConfigured(AccountHeld):
    """Refused before any request: the account has no credentials configured."""


class Tweet(Protocol):
    account: str
    text: str


class AccountPoster:
    """Posts each account's tweets with its own ``XClient``, never beyond its limits: at most ``limit.max_posts``
    in any rolling window (counted from its post times: ``history`` seeds them, e.g. from the outbox after a
    restart) and never in a window X reported spent (the remaining counts of every answer). An account whose
    credentials X refused (401/403) is held: none of its tweets is sent until ``release``. A drop-in publisher
    ``Sender``: ``post(pending)`` reads ``pending.account`` and ``pending.text``."""

    receipt_status = "posted"

    def __init__(
        self,
        clients: Mapping[str, XClient],
        limit: RollingLimit | None = None,
        *,
        history: Mapping[str, Iterable[float]] | None = None,
        unconfigured: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clients = dict(clients)
        self.limit = limit or RollingLimit()
        self.clock = clock
        self.post_times: dict[str, list[float]] = {a: sorted(t) for a, t in (history or {}).items()}
        self.reported: dict[str, RateLimits] = {}
        self.blocked_until: dict[str, float] = {}
        self.held: dict[str, str] = {a: "no credentials configured" for a in unconfigured if a not in self.clients}

    @classmethod
    def from_accounts(
        cls,
        accounts: XAccounts,
        limit: RollingLimit | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        history: Mapping[str, Iterable[float]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> AccountPoster:
        clients = {name: XClient(credentials, base_url, timeout) for name, credentials in accounts.items()}
        return cls(clients, limit, history=history, unconfigured=accounts.unconfigured, clock=clock)

    @classmethod
    def from_settings(cls, settings, history: Mapping[str, Iterable[float]] | None = None) -> AccountPoster:
        """The poster of the configured accounts: ``WIREREPORT_X_ACCOUNTS_FILE`` and ``WIREREPORT_X_<ACCOUNT>_*``,
        ``WIREREPORT_TWEETS_PER_DAY`` in any rolling 24 hours, ``WIREREPORT_X_API_BASE_URL``."""
        return cls.from_accounts(
            accounts_from_settings(settings),
            RollingLimit(settings.tweets_per_day),
            base_url=settings.x_api_base_url,
            timeout=settings.x_api_timeout,
            history=history,
        )

    def post(self, tweet: Tweet) -> PostedTweet:
        return self.post_text(tweet.account, tweet.text)

    def post_text(self, account: str, text: str) -> PostedTweet:
        """Post ``text`` as ``account``; raises AccountHeld/AccountLimitReached without a request, or the
        client's XApiError."""
        client = self.clients.get(account)
        if client is None:
            raise AccountNotConfigured(f"X account {account!r} has no credentials configured")
        if account in self.held:
            raise AccountHeld(f"X account {account!r} is held: {self.held[account]}")
        now = self.clock()
        next_at = self.next_post_at(account, now)
        if next_at > now:
            raise AccountLimitReached(
                f"X account {account!r} may post again at {_iso(next_at)}", retry_at=next_at, now=now
            )
        try:
            posted = client.post_tweet(text)
        except XApiError as exc:
            self._note_limits(account, exc.limits)
            if isinstance(exc, XRateLimited) and exc.retry_at is not None:
                self.blocked_until[account] = max(self.blocked_until.get(account, 0.0), exc.retry_at)
            if exc.hold_account:
                self.held[account] = str(exc)
                log.error("X account %s held: X refused its credentials (%s)", account, exc.status)
            raise
        times = self.post_times.setdefault(account, [])
        times.append(now)
        self.post_times[account] = self.limit.counted(times, now)
        self._note_limits(account, posted.limits)
        return posted

    def next_post_at(self, account: str, now: float | None = None) -> float:
        """The earliest time ``account`` may post (``now`` when it may post now)."""
        now = self.clock() if now is None else now
        rolling = self.limit.next_allowed_at(self.post_times.get(account, ()), now)
        return max(rolling, self.blocked_until.get(account, now))

    def release(self, account: str) -> None:
        """Post for ``account`` again (its credentials were fixed)."""
        self.held.pop(account, None)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def _note_limits(self, account: str, limits: RateLimits) -> None:
        self.reported[account] = limits
        until = limits.blocked_until() if limits.exhausted else None
        if until is not None:
            self.blocked_until[account] = max(self.blocked_until.get(account, 0.0), until)

    def __repr__(self) -> str:
        return f"AccountPoster(accounts={sorted(self.clients)}, held={sorted(self.held)})"


def _iso(epoch: float) -> str:
    if not math.isfinite(epoch):
        return "never (no post allowed)"
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
