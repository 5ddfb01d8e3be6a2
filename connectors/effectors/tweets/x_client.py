"""A small X API v2 client: post a tweet with an OAuth 2.0 user bearer token (httpx)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from connectors.exceptions import ConnectorError

log = logging.getLogger(__name__)

PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 422})


class XApiError(ConnectorError):
    """The X API refused or failed a request. ``retryable`` says whether trying again may help; ``duplicate``
    that X refused the text as a duplicate of an earlier tweet of the account (a 403, never retried)."""

    def __init__(
        self, message: str, *, retryable: bool, retry_after: float | None = None, duplicate: bool = False
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.duplicate = duplicate


@dataclass
class PostedTweet:
    tweet_id: str
    text: str


class XClient:
    """``POST {base_url}/2/tweets`` with ``Authorization: Bearer <token>``."""

    def __init__(self, bearer_token: str, base_url: str = "https://api.x.com", timeout: float = 10.0) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={"Authorization": f"Bearer {bearer_token}", "User-Agent": "wirereport-publisher"},
        )

    def post_tweet(self, text: str) -> PostedTweet:
        """Post ``text``; raises XApiError (retryable for network errors, 429 and 5xx)."""
        try:
            response = self._client.post("/2/tweets", json={"text": text})
        except httpx.HTTPError as exc:
            raise XApiError(f"X API unreachable: {exc.__class__.__name__}", retryable=True) from None
        if response.status_code in (200, 201):
            data = response.json().get("data") or {}
            return PostedTweet(tweet_id=str(data.get("id", "")), text=str(data.get("text", text)))
        detail = response.text[:200].replace("\n", " ")
        if response.status_code == 429:
            reset = response.headers.get("retry-after")
            raise XApiError(f"X API rate limit (429): {detail}", retryable=True, retry_after=_seconds(reset))
        retryable = response.status_code not in PERMANENT_STATUSES
        duplicate = response.status_code == 403 and "duplicate content" in detail.lower()
        raise XApiError(f"X API answered {response.status_code}: {detail}", retryable=retryable, duplicate=duplicate)

    def close(self) -> None:
        self._client.close()


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
