"""FastAPI dependencies (``Annotated``): app state, the caller (authenticated, rate limited, scoped), pagination."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.commands import CommandSender
from api.exceptions import APIError
from api.metrics import ApiMetrics
from api.read_model import ReadModel
from api.security import Authenticator, CredentialError, Principal, RateLimiter


@dataclass
class AppState:
    """Everything the routers need, built once by ``create_app``."""

    settings: Any
    read_model: ReadModel
    auth: Authenticator
    limiter: RateLimiter
    sender: CommandSender
    metrics: ApiMetrics
    sse_clients: int = 0


async def get_state(request: Request) -> AppState:
    return request.app.state.wirereport


StateDep = Annotated[AppState, Depends(get_state)]

_bearer = HTTPBearer(auto_error=False, description="A JWT from `wirereport auth token`.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="A league server's API key.")


def _limit(state: AppState, key: str) -> None:
    wait = state.limiter.take(key)
    if wait:
        state.metrics.rate_limited.inc()
        raise APIError(
            429, f"rate limit exceeded; retry in {wait:.1f}s", {"Retry-After": RateLimiter.retry_after(wait)}
        )


async def get_principal(
    request: Request,
    state: StateDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Principal:
    """The authenticated caller (401 otherwise); every credential has its own rate limit."""
    authorization = f"{bearer.scheme} {bearer.credentials}" if bearer else request.headers.get("authorization")
    try:
        principal = state.auth.authenticate(authorization, api_key)
    except CredentialError as exc:
        state.metrics.auth_failures.inc()
        _limit(state, f"ip:{request.client.host if request.client else '?'}")  # slows credential guessing
        challenge = 'Bearer realm="wirereport"'
        if authorization or api_key:
            challenge += ', error="invalid_token"'
        raise APIError(401, str(exc), {"WWW-Authenticate": challenge}) from None
    _limit(state, principal.rate_key)
    request.state.principal = principal
    return principal


def require(scope: str):
    """A dependency that lets through only principals holding ``scope`` (403 otherwise)."""

    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.has_scope(scope):
            raise APIError(
                403,
                f"this action needs the {scope!r} scope",
                {"WWW-Authenticate": f'Bearer realm="wirereport", error="insufficient_scope", scope="{scope}"'},
            )
        return principal

    return check


Reader = Annotated[Principal, Depends(require("read"))]
Admin = Annotated[Principal, Depends(require("admin"))]


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int

    def page(self, items: list) -> dict[str, Any]:
        return {
            "items": items[self.offset : self.offset + self.limit],
            "total": len(items),
            "limit": self.limit,
            "offset": self.offset,
        }


async def pagination(
    state: StateDep,
    limit: Annotated[int, Query(ge=1, description="Page size (capped by WIREREPORT_API_MAX_PAGE_SIZE).")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> PageParams:
    cap = state.settings.api_max_page_size
    if limit > cap:
        raise APIError(422, f"limit: must be at most {cap}")
    return PageParams(limit, offset)


Paging = Annotated[PageParams, Depends(pagination)]


def check_league(principal: Principal, league: str | None) -> None:
    """Object-level authorization for actions: a league-bound credential acts only on its leagues."""
    if principal.leagues is not None and (league is None or league not in principal.leagues):
        raise APIError(403, f"this credential is limited to {', '.join(sorted(principal.leagues or ()))}")
