"""FastAPI dependencies (``Annotated``): app state, the caller (authenticated, rate limited, scoped), the one
league filter every router and stream uses, pagination."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.commands import CommandSender
from api.exceptions import APIError
from api.metrics import ApiMetrics
from api.models import League
from api.read_model import ReadModel
from api.security import (
    Authenticator,
    CredentialError,
    FailureThrottle,
    Principal,
    RateLimiter,
    StreamSlots,
    credential_identity,
)
from connectors.auth.tokens import LEAGUES


@dataclass
class AppState:
    """Everything the routers need, built once by ``create_app``."""

    settings: Any
    read_model: ReadModel
    auth: Authenticator
    limiter: RateLimiter
    sender: CommandSender
    metrics: ApiMetrics
    throttle: FailureThrottle
    streams: StreamSlots


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


def identify(state: AppState, authorization: str | None, api_key: str | None, client: str) -> Principal:
    """The caller's principal, or APIError: 429 while the client address or the claimed identity is locked out
    (looked up before the credential is checked), 401 for a credential that is missing, wrong or revoked."""
    identity = credential_identity(authorization, api_key)
    keys = [f"ip:{client}", *([identity] if identity else [])]
    wait = state.throttle.locked_for(keys)
    if wait:
        state.metrics.rate_limited.inc()
        raise APIError(
            429, f"too many failed credentials; retry in {wait:.1f}s", {"Retry-After": RateLimiter.retry_after(wait)}
        )
    try:
        principal = state.auth.authenticate(authorization, api_key)
    except CredentialError as exc:
        state.metrics.auth_failures.inc()
        if authorization or api_key:  # a request without any credential guesses nothing
            state.throttle.failed(keys)
        challenge = 'Bearer realm="wirereport"'
        if authorization or api_key:
            challenge += ', error="invalid_token"'
        raise APIError(401, str(exc), {"WWW-Authenticate": challenge}) from None
    if identity:
        state.throttle.succeeded(identity)
    return principal


async def get_principal(
    request: Request,
    state: StateDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Principal:
    """The authenticated caller (401 otherwise); every credential has its own rate limit."""
    principal = getattr(request.state, "principal", None)  # already identified before its body was read
    if principal is None:
        authorization = f"{bearer.scheme} {bearer.credentials}" if bearer else request.headers.get("authorization")
        client = request.client.host if request.client else "?"
        principal = identify(state, authorization, api_key, client)
        request.state.principal = principal
    _limit(state, principal.rate_key)
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
    if not principal.may_see(league):
        raise APIError(403, f"this credential is limited to {', '.join(sorted(principal.leagues or ()))}")


def require_unbound(principal: Principal, what: str) -> None:
    """Actions on objects of no league (dead letters, token revocations) need a credential of every league."""
    if principal.leagues is not None:
        raise APIError(403, f"{what} belong to no league: this needs a credential not limited to a league")


# --- the league filter ------------------------------------------------------------------------------------
def league_of(record: Mapping[str, Any]) -> str | None:
    """The league an object belongs to: its ``league`` field, a silence's ``league`` matcher, or the league of a
    budget's account (one account per league, named after it); None for objects of no (or every) league."""
    if "league" in record:
        return record["league"]
    matchers = record.get("matchers")
    if isinstance(matchers, Mapping):
        return matchers.get("league")
    account = str(record.get("account") or "").upper()
    return account if account in LEAGUES else None


@dataclass(frozen=True)
class Visibility:
    """What a caller may see: objects of its leagues (every league if unbound), narrowed to ``league`` if asked."""

    principal: Principal
    league: str | None = None

    def keeps(self, record: Mapping[str, Any] | None) -> bool:
        if record is None:
            return False
        league = league_of(record)
        return self.principal.may_see(league) and (self.league is None or league == self.league)

    def where(self, **fields: Any) -> Callable[[Mapping[str, Any]], bool]:
        """A predicate: visible records whose fields equal every given value (None: any value)."""
        wanted = {k: v for k, v in fields.items() if v is not None}
        return lambda r: self.keeps(r) and all(r.get(k) == v for k, v in wanted.items())

    def one(self, record: Mapping[str, Any] | None, detail: str) -> Mapping[str, Any]:
        """``record`` if visible, else 404 with ``detail`` (the same answer as for an unknown id: no hint)."""
        if record is None or not self.keeps(record):
            raise APIError(404, detail)
        return record


async def visibility(
    principal: Reader,
    league: Annotated[League | None, Query(description="Only objects of this league.")] = None,
) -> Visibility:
    return Visibility(principal, league)


async def league_visibility(principal: Reader, league: Annotated[League, Path()]) -> Visibility:
    """For ``/v1/leagues/{league}/...``: another league's path is answered 404 like an unknown one."""
    if not principal.may_see(league):
        raise APIError(404, f"no data for league {league}")
    return Visibility(principal, league)


async def own_visibility(principal: Reader) -> Visibility:
    return Visibility(principal)


Visible = Annotated[Visibility, Depends(visibility)]
LeagueVisible = Annotated[Visibility, Depends(league_visibility)]
OwnVisible = Annotated[Visibility, Depends(own_visibility)]
