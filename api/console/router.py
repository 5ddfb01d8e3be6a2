"""The operator console at ``/console``: server-rendered pages (Jinja2), live over one SSE stream per page, with
the API's own credentials (a sign-in turns a token or API key into a session cookie) and league filter.

Every POST is checked against the session's CSRF token (a hidden form field or the ``X-CSRF-Token`` header);
actions need the ``admin`` scope and run the API endpoints' own functions (see ``actions.py``).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

import jwt
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from api.console import pages
from api.console.actions import ACTIONS, describe_errors
from api.console.events import CONSOLE_VIEWS, open_console_stream
from api.console.sessions import COOKIE, CSRF_FIELD, CSRF_HEADER, ConsoleSession, SessionStore
from api.deps import AppState, Visibility, identify, require_unbound
from api.exceptions import APIError
from api.security import RateLimiter
from connectors.auth.tokens import LEAGUES
from connectors.exceptions import BrokerUnavailable
from schemas.exceptions import SchemaError

HERE = Path(__file__).parent
REPO = HERE.parents[1]
# Front-end libraries come from npm (package-lock.json, installed by ``make install``); only these files are served.
VENDOR = {
    "chart.umd.min.js": REPO / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js",
}
PAGES = (  # (page name, path, title) in the navigation's order
    ("today", "/console", "Today"),
    ("tweets", "/console/tweets", "Tweets"),
    ("scaling", "/console/scaling", "Scaling"),
    ("health", "/console/health", "Health"),
    ("deployments", "/console/deployments", "Deployments"),
    ("dead_letters", "/console/dead-letters", "Dead letters"),
)
PAGE_PATHS = {name: path for name, path, _ in PAGES}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
MAX_FORM_FIELDS = 50

router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(pages.FILTERS)


class SignInRequired(Exception):
    """Raised by a page dependency without a live session: the page answers with the sign-in page's address."""

    def __init__(self, next_path: str):
        self.next_path = next_path


def install(app: FastAPI) -> None:
    """Mount the console on ``app``: its routes, its static files and its session store."""
    app.state.console_sessions = SessionStore()
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(_: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(f"/console/login?next={quote(exc.next_path)}", 303, headers=SECURITY_HEADERS)


# --- sessions --------------------------------------------------------------------------------------------------
def _state(request: Request) -> AppState:
    return request.app.state.wirereport


def _store(request: Request) -> SessionStore:
    return request.app.state.console_sessions


def _live_session(request: Request) -> ConsoleSession | None:
    """The request's session if it is open and its credential still valid (a revoked token ends it)."""
    store = _store(request)
    session = store.get(request.cookies.get(COOKIE))
    if session is None:
        return None
    token_id = session.principal.token_id
    if token_id is not None and _state(request).auth.is_revoked(token_id):
        store.end(session.session_id)
        return None
    return session


def _rate_limit(state: AppState, key: str) -> None:
    wait = state.limiter.take(key)
    if wait:
        state.metrics.rate_limited.inc()
        raise APIError(
            429, f"rate limit exceeded; retry in {wait:.1f}s", {"Retry-After": RateLimiter.retry_after(wait)}
        )


async def console_session(request: Request) -> ConsoleSession:
    session = _live_session(request)
    if session is None:
        raise SignInRequired(request.url.path)
    _rate_limit(_state(request), session.principal.rate_key)
    return session


Session = Annotated[ConsoleSession, Depends(console_session)]


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the body size is already capped by the API's middleware)."""
    body = await request.body()
    if not body:
        return {}  # a bare POST: still answered by the CSRF and scope checks (403), not by its missing type
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise APIError(415, "send the form as application/x-www-form-urlencoded")
    pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    if len(pairs) > MAX_FORM_FIELDS:
        raise APIError(413, f"more than {MAX_FORM_FIELDS} form fields")
    return dict(pairs)


def _check_csrf(session: ConsoleSession, request: Request, form: dict[str, str]) -> None:
    if not session.csrf_ok(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)):
        raise APIError(403, "missing or wrong CSRF token: reload the page and try again")


def _safe_next(path: str | None) -> str:
    """Only a console page may be the place to go back to after signing in (no open redirect)."""
    if path and path.startswith("/console") and not path.startswith("//") and "\\" not in path:
        return path
    return "/console"


# --- rendering ------------------------------------------------------------------------------------------------
def _leagues(session: ConsoleSession) -> list[str]:
    allowed = session.principal.leagues
    return sorted(LEAGUES if allowed is None else allowed)


def render(
    request: Request, session: ConsoleSession | None, template: str, page: str, status: int = 200, **context: Any
) -> HTMLResponse:
    principal = session.principal if session else None
    context = {
        "page": page,
        "pages": PAGES,
        "principal": principal,
        "can_act": bool(session and session.can_act),
        "csrf_token": session.csrf_token if session else "",
        "flashes": session.take_flashes() if session else [],
        "leagues": _leagues(session) if session else [],
        "idempotency_key": secrets.token_urlsafe(16),  # one per rendered form: a double submit acts once
        "has_charts": VENDOR["chart.umd.min.js"].is_file(),
        "dead_letters_visible": bool(session and session.can_act and principal.leagues is None),
        **context,
    }
    return templates.TemplateResponse(request, template, context, status_code=status, headers=SECURITY_HEADERS)


def _visible(session: ConsoleSession, league: str | None = None) -> Visibility:
    return Visibility(session.principal, league if league in LEAGUES else None)


# --- sign in / out ---------------------------------------------------------------------------------------------
@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    if _live_session(request) is not None:
        return RedirectResponse(_safe_next(next), 303)
    return render(request, None, "login.html", "login", next=_safe_next(next))


def _token_expiry(token: str | None) -> float | None:
    """The ``exp`` of a token that was just verified: the session ends with it."""
    if not token:
        return None
    try:
        return float(jwt.decode(token, options={"verify_signature": False})["exp"])
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
        return None


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    api_key = form.get("api_key", "").strip() or None
    token = form.get("token", "").strip() or None
    next_path = _safe_next(form.get("next"))
    state = _state(request)
    client = request.client.host if request.client else "?"
    if not api_key and not token:
        return render(request, None, "login.html", "login", 401, next=next_path, error="paste a token or an API key")
    try:
        principal = identify(state, f"Bearer {token}" if token and not api_key else None, api_key, client)
    except APIError as exc:
        return render(request, None, "login.html", "login", exc.status_code, next=next_path, error=str(exc.detail))
    if not principal.has_scope("read"):
        return render(request, None, "login.html", "login", 403, next=next_path, error="this credential cannot read")
    store = _store(request)
    session = store.create(principal, None if api_key else _token_expiry(token))
    response = RedirectResponse(next_path, 303, headers=SECURITY_HEADERS)
    response.set_cookie(
        COOKIE,
        session.session_id,
        max_age=store.seconds_left(session),
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(request: Request, session: Session) -> Response:
    _check_csrf(session, request, await _form(request))
    _store(request).end(session.session_id)
    response = RedirectResponse("/console/login", 303, headers=SECURITY_HEADERS)
    response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="strict")
    return response


# --- pages -----------------------------------------------------------------------------------------------------
@router.get("")
async def today_page(request: Request, session: Session) -> Response:
    context = pages.today(_state(request).read_model, _visible(session))
    return render(request, session, "today.html", "today", **context, views=("games", "tweets", "budgets"))


@router.get("/tweets")
async def tweets_page(request: Request, session: Session, account: str | None = None) -> Response:
    context = pages.tweets(_state(request).read_model, _visible(session), account[:100] if account else None)
    views = ("tweets", "tweet_receipts", "flags", "publisher_controls")
    return render(request, session, "tweets.html", "tweets", **context, views=views, actions=ACTIONS)


@router.get("/scaling")
async def scaling_page(request: Request, session: Session) -> Response:
    context = pages.scaling(_state(request).read_model, _visible(session))
    views = ("scaling", "forecasts", "scaling_history", "overrides", "events", "flags")
    return render(request, session, "scaling.html", "scaling", **context, views=views, actions=ACTIONS)


@router.get("/health")
async def health_page(request: Request, session: Session) -> Response:
    context = pages.health(_state(request).read_model, _visible(session))
    views = ("servers", "alerts", "silences", "breakers")
    return render(request, session, "health.html", "health", **context, views=views, actions=ACTIONS)


@router.get("/deployments")
async def deployments_page(request: Request, session: Session) -> Response:
    context = pages.deployments(_state(request).read_model, _visible(session))
    views = ("deployments", "decisions")
    return render(request, session, "deployments.html", "deployments", **context, views=views, actions=ACTIONS)


@router.get("/dead-letters")
async def dead_letters_page(request: Request, session: Session) -> Response:
    if not session.can_act:
        raise APIError(403, "dead letters need the 'admin' scope")
    require_unbound(session.principal, "dead letters")
    context = pages.dead_letters(_state(request).read_model)
    return render(request, session, "dead_letters.html", "dead_letters", **context, views=())


# --- actions ---------------------------------------------------------------------------------------------------
@router.post("/actions/{name}")
async def act(request: Request, name: str, session: Session) -> Response:
    form = await _form(request)
    _check_csrf(session, request, form)
    if not session.can_act:
        raise APIError(403, "this action needs the 'admin' scope")
    action = ACTIONS.get(name)
    if action is None:
        raise APIError(404, f"no action {name[:50]!r}")
    back = RedirectResponse(PAGE_PATHS[action.page], 303, headers=SECURITY_HEADERS)
    try:
        body, path = action.body(form)
    except ValidationError as exc:
        session.flash("error", f"{action.label}: {describe_errors(exc)}")
        return back
    key = (form.get("idempotency_key") or "").strip()[:200] or None
    try:
        accepted = await action.run(body, _state(request), session.principal, key, path)
    except APIError as exc:
        if exc.status_code in (401, 403, 404):
            raise
        session.flash("error", f"{action.label}: {exc.detail}")
        return back
    except (BrokerUnavailable, SchemaError) as exc:
        session.flash("error", f"{action.label}: not accepted by Kafka ({exc}); try again")
        return back
    session.flash("ok", f"{action.label}: accepted as {accepted.command_id} on {accepted.topic}")
    return back


# --- live updates and assets -------------------------------------------------------------------------------------
@router.get("/events")
async def events(request: Request, session: Session, views: str = "games") -> Response:
    wanted = [v for v in dict.fromkeys(views.split(",")) if v in CONSOLE_VIEWS]
    if not wanted:
        raise APIError(422, f"views: one or more of {', '.join(sorted(CONSOLE_VIEWS))}")
    return open_console_stream(_state(request), _visible(session), wanted)


@router.get("/vendor/{name}")
async def vendor(name: str) -> Response:
    path = VENDOR.get(name)
    if path is None or not path.is_file():
        raise APIError(404, f"no asset {name[:50]!r} (run 'make install' to fetch the console's libraries)")
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})
