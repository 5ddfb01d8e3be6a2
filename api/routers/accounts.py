"""The X accounts and their operator controls: list them with their paused state, pause and resume one (scope
``admin``). Controls travel on ``publisher-controls`` (the publisher applies each once) and are audited.

An account belongs to a league only when its name is exactly the league's (``NFL``, ``NBA``, ``WNBA``): a
league-bound admin acts on that account only; any other account (a team's) is for unbound admins. An account
unknown to the API, or of another league, is answered 404 alike.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Request, Response, status

from api.commands import publisher_control
from api.deps import Admin, Paging, StateDep, Visible
from api.exceptions import APIError
from api.models import ACCOUNT_PATTERN, Accepted, AccountPublic, ControlCreate, Page
from api.responses import etag_json
from api.routers.admin import audit, send_command
from connectors.admin_records import audit_entry
from connectors.auth.tokens import LEAGUES, Principal

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/accounts", tags=["accounts"])
AccountAction = Literal["pause", "resume"]  # what an operator can do to one
CONTROLS = "publisher-controls"
ACCEPTED = {"status_code": status.HTTP_202_ACCEPTED, "response_model": Accepted}
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
AccountPath = Annotated[str, Path(pattern=ACCOUNT_PATTERN)]


def account_league(account: str | None) -> str | None:
    """The league of an account: exactly the league's name, or none (no prefix or case folding: ``NBA`` is in
    ``WNBA``, ``nfl-fans`` is not the NFL's)."""
    return account if account in LEAGUES else None


def check_account(principal: Principal, account: str | None, known: bool, detail: str) -> None:
    """404 with ``detail`` for an unknown account or one the caller may not act on (the same answer: no hint)."""
    if not known or account is None or not principal.may_see(account_league(account)):
        raise APIError(404, detail)


async def send_control(
    state,
    principal: Principal,
    action: str,
    account: str,
    body: ControlCreate | None,
    idempotency_key: str | None,
    command: str | None = None,
) -> Accepted:
    """Produce a PublisherControl (acknowledged by Kafka) and audit it; answer its id."""
    reason = body.reason if body else ""
    record = publisher_control(action, account, principal.subject, reason, command, idempotency_key)
    accepted = await send_command(state, CONTROLS, "PublisherControl", record, "control_id")
    target = command or account
    details = {"account": account, "control_id": record["control_id"]}
    entry = audit_entry(
        f"publisher.{action}",
        record["control_id"],
        account_league(account),
        principal.subject,
        reason,
        datetime.now(UTC),
        {**details, "target": target},
    )
    await audit(state, entry)
    return accepted


@router.get("", response_model=Page, summary="X accounts and whether an operator paused them")
async def list_accounts(request: Request, state: StateDep, visible: Visible, paging: Paging) -> Response:
    rm = state.read_model
    pauses = rm.account_pauses()
    items = []
    for account in sorted(set(LEAGUES) | rm.accounts()):
        pause = pauses.get(account)
        item = AccountPublic(
            account=account,
            league=account_league(account),
            paused=pause is not None,
            paused_reason=pause.get("reason") if pause else None,
            paused_by=pause.get("requested_by") if pause else None,
            paused_at=str(pause.get("requested_at")) if pause else None,
        ).model_dump()
        if visible.keeps(item):
            items.append(item)
    return etag_json(request, paging.page(items))


@router.post(
    "/{account}/{action}",
    **ACCEPTED,
    summary="Pause an account (hold every tweet) or resume it (post again, within its limit)",
)
async def control_account(
    account: AccountPath,
    action: Annotated[Literal["pause", "resume"], Path(description="pause or resume")],
    state: StateDep,
    principal: Admin,
    body: ControlCreate | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    known = account in LEAGUES or account in state.read_model.accounts()
    check_account(principal, account, known, f"no account {account}")
    return await send_control(state, principal, action, account, body, idempotency_key)
