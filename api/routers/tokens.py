"""Token revocation (scope ``admin``, not limited to a league): a ``TokenRevocation`` on ``token-revocations``."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, status

from api.commands import build_record
from api.deps import Admin, StateDep, require_unbound
from api.models import Accepted, TokenRevocationCreate
from api.routers.admin import send_command

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])
TOPIC = "token-revocations"


@router.post("/revoke", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted, summary="Revoke a token")
async def revoke_token(body: TokenRevocationCreate, state: StateDep, principal: Admin) -> Accepted:
    require_unbound(principal, "tokens")  # a jti does not say whose league it is
    record = build_record(
        "TokenRevocation",
        {"jti": body.jti, "reason": body.reason, "revoked_by": principal.subject, "revoked_at": datetime.now(UTC)},
    )
    return await send_command(state, TOPIC, "TokenRevocation", record, "jti")
