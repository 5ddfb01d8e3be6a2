"""Tweet commands and their publish status (``tweet-commands``), newest first; retry a failed or held one, cancel
a pending one (scope ``admin``, only for the accounts the caller may act on: see :mod:`api.routers.accounts`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response

from api.deps import Admin, Paging, StateDep, Visible
from api.models import Accepted, ControlCreate, Page
from api.responses import etag_json
from api.routers.accounts import ACCEPTED, IdempotencyKey, check_account, send_control

router = APIRouter(prefix="/v1/tweets", tags=["tweets"])
TweetAction = Literal["retry", "cancel"]  # what an operator can do to one


@router.get("", response_model=Page, summary="Recent tweet commands")
async def list_tweets(
    request: Request,
    state: StateDep,
    visible: Visible,
    paging: Paging,
    game_id: str | None = None,
    account: str | None = None,
) -> Response:
    rm = state.read_model
    receipts = rm.keyed.get("tweet_receipts")
    items = rm.logs["tweets"].recent(visible.where(game_id=game_id, account=account))
    page = paging.page(items)
    page["items"] = [_with_status(t, receipts) for t in page["items"]]
    return etag_json(request, page)


def _with_status(tweet: dict, receipts) -> dict:
    if receipts is None:  # no publisher outcomes topic yet: the status is not known to the API
        return {**tweet, "publish_status": "unknown", "receipt": None}
    receipt = receipts.get(tweet.get("command_id", ""))
    status = (receipt or {}).get("status") or "pending"
    return {**tweet, "publish_status": status, "receipt": receipt}


CommandPath = Annotated[str, Path(min_length=1, max_length=200)]


def _command(state, command_id: str) -> dict[str, Any] | None:
    """The command as the API knows it: from ``tweet-commands`` (recent ones) or its receipt."""
    rm = state.read_model
    tweets = rm.logs.get("tweets")
    found = tweets.recent(lambda t: t.get("command_id") == command_id)[:1] if tweets is not None else []
    if found:
        return found[0]
    receipts = rm.keyed.get("tweet_receipts")
    return receipts.get(command_id) if receipts is not None else None


@router.post(
    "/{command_id}/{action}",
    **ACCEPTED,
    summary="Retry a failed or held tweet (fresh attempts), or cancel a queued or held one (never posted)",
)
async def control_tweet(
    command_id: CommandPath,
    action: Annotated[TweetAction, Path(description="retry or cancel")],
    state: StateDep,
    principal: Admin,
    body: ControlCreate | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    command = _command(state, command_id)
    account = (command or {}).get("account")
    check_account(principal, account, command is not None, f"no tweet command {command_id}")
    return await send_control(state, principal, action, account, body, idempotency_key, command=command_id)
