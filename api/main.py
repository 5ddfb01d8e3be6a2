"""The FastAPI app factory: ``uvicorn api.main:create_app --factory`` (or ``wirereport api``)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import exceptions
from api.commands import CommandSender
from api.console.router import install as install_console
from api.deps import AppState
from api.limits import BodyLimitMiddleware, CredentialsFirstMiddleware
from api.metrics import ApiMetrics, MetricsMiddleware
from api.read_model import ReadModel
from api.routers import (
    accounts,
    admin,
    alerts,
    breakers,
    deployments,
    flags,
    games,
    leagues,
    scaling,
    servers,
    stream,
    system,
    tokens,
    tweets,
)
from api.security import Authenticator, FailureThrottle, RateLimiter, StreamSlots

log = logging.getLogger(__name__)
ROUTERS = (
    games,
    tweets,
    leagues,
    scaling,
    servers,
    alerts,
    breakers,
    deployments,
    admin,
    flags,
    accounts,
    tokens,
    stream,
    system,
)
MAX_BODY_BYTES = 1_000_000  # the broker's message limit: no request body can be worth more


def create_app(settings=None) -> FastAPI:
    """Build the app from ``settings`` (default: the environment). Kafka is touched only at startup."""
    if settings is None:
        from connectors.config import get_settings

        settings = get_settings()
    if settings.api_max_body_bytes > MAX_BODY_BYTES:
        raise ValueError(f"WIREREPORT_API_MAX_BODY_BYTES must be at most {MAX_BODY_BYTES} (the broker's limit)")
    read_model = ReadModel(
        settings.bootstrap, history_size=settings.api_history_size, ready_max_lag=settings.api_ready_max_lag
    )
    auth = Authenticator.from_settings(settings, is_revoked=read_model.is_revoked)
    if not auth.configured:
        log.warning("no WIREREPORT_JWT_SECRET or WIREREPORT_API_KEYS: every /v1 request will be refused (401)")
    metrics = ApiMetrics(read_model)
    state = AppState(
        settings=settings,
        read_model=read_model,
        auth=auth,
        limiter=RateLimiter(settings.api_rate_per_second, settings.api_rate_burst),
        sender=CommandSender(settings.bootstrap, settings.api_command_timeout),
        metrics=metrics,
        throttle=FailureThrottle(
            settings.api_auth_free_failures, settings.api_auth_lockout_seconds, settings.api_auth_lockout_max_seconds
        ),
        streams=StreamSlots(settings.api_sse_max_clients, settings.api_sse_max_per_credential),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await read_model.start()
        try:
            yield
        finally:
            await read_model.stop()
            state.sender.close()

    docs = settings.api_docs_enabled
    app = FastAPI(
        title="Wire Report API",
        version="1",
        description="Query the state of games, tweets, scaling, health and deployments; act through Kafka commands.",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.wirereport = state
    exceptions.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    install_console(app)  # the operator console at /console: same process, same credentials
    app.add_middleware(CredentialsFirstMiddleware, state=state)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # CORS is off unless origins are listed explicitly (never "*" with credentials)
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "If-None-Match", "Idempotency-Key"],
            expose_headers=["ETag", "Retry-After"],
        )
    app.add_middleware(BodyLimitMiddleware, max_body=settings.api_max_body_bytes, timeout=settings.api_request_timeout)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
