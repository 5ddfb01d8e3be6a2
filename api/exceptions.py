"""Error answers: one JSON shape ``{"error", "detail"}``, readable 422s, no stack traces to clients."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from connectors.exceptions import BrokerUnavailable
from schemas.exceptions import SchemaError

log = logging.getLogger(__name__)

_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class APIError(StarletteHTTPException):
    """An HTTP error with a readable detail and optional headers."""


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": _NAMES.get(status, "error"), "detail": detail}, status, headers=headers)


def readable_validation(exc: RequestValidationError) -> tuple[str, list[dict]]:
    """``body.league: Input should be 'NFL', 'NBA' or 'WNBA'; ...`` (the inputs are not echoed back)."""
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body" or len(err.get("loc", ())) == 1)
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        errors.append({"field": loc or "body", "message": msg})
    text = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10])
    return text, errors


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        text, errors = readable_validation(exc)
        return JSONResponse({"error": "validation_error", "detail": text, "errors": errors}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(BrokerUnavailable)
    async def _broker(_: Request, exc: BrokerUnavailable) -> JSONResponse:
        log.warning("command not produced: %s", exc)
        detail = (
            f"Kafka did not acknowledge the command ({exc}); retry the same request: it carries the same "
            "command id, so a late delivery of this attempt is deduplicated downstream"
        )
        return error_response(503, detail, {"Retry-After": "5"})

    @app.exception_handler(SchemaError)
    async def _schema(_: Request, exc: SchemaError) -> JSONResponse:
        return error_response(422, f"record rejected by its schema: {exc}")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal error (logged on the server)")
