"""Pure ASGI middlewares that protect the app before a route runs (neither buffers a response, so SSE flows):

- ``BodyLimitMiddleware``: 413 for every body over the limit (by Content-Length or counted as it arrives,
  chunked too), 408 for a body that does not arrive in time;
- ``CredentialsFirstMiddleware``: a request that carries a body is authenticated from its headers before a
  byte of the body is read (an anonymous client cannot make the server wait for or parse a body).
"""

from __future__ import annotations

import asyncio
from typing import Any

from api.deps import identify
from api.exceptions import APIError, error_response

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BodyLimitMiddleware:
    """Refuse bodies over ``max_body`` bytes with 413 and bodies slower than ``timeout`` seconds with 408."""

    def __init__(self, app, max_body: int, timeout: float):
        self.app = app
        self.max_body = max_body
        self.timeout = timeout

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await error_response(413, f"request body over {self.max_body} bytes")(scope, receive, send)
            return
        received = 0
        body_done = scope["method"] not in _BODY_METHODS and length is None
        refused = False  # once we answered, whatever the app still sends is dropped

        async def limited_receive():
            nonlocal received, body_done, refused
            if refused:
                return {"type": "http.disconnect"}
            if body_done:  # only the body has a deadline (a stream waits for its client's disconnect)
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                refused = True
                await error_response(408, f"request body not received within {self.timeout:.0f}s")(scope, receive, send)
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.max_body:
                    refused = True
                    await error_response(413, f"request body over {self.max_body} bytes")(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


class CredentialsFirstMiddleware:
    """Authenticate ``/v1`` requests that carry a body before the body is read (401/429 at once); the principal
    is handed to the route's dependencies through the request state."""

    def __init__(self, app, state):
        self.app = app
        self.state = state

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
        client = scope.get("client")
        try:
            principal = identify(
                self.state, headers.get("authorization"), headers.get("x-api-key"), client[0] if client else "?"
            )
        except APIError as exc:
            await error_response(exc.status_code, str(exc.detail), exc.headers)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
