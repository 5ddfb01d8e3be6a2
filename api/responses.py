"""JSON answers with a content ETag; ``If-None-Match`` with the same ETag gives 304 and no body."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from api.views import dumps, etag_matches, etag_of

CACHE_CONTROL = "private, no-cache"  # clients may keep the answer but must revalidate (cheap with the ETag)


def etag_json(request: Request, payload: Any = None, *, body: bytes | None = None, etag: str | None = None) -> Response:
    """Serialize ``payload`` (or use a pre-serialized ``body``/``etag``) and honour ``If-None-Match``."""
    if body is None:
        body = dumps(payload)
    etag = etag or etag_of(body)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Authorization, X-API-Key"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
