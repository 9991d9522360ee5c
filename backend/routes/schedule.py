"""The organization's payout schedule: set on the connected account through Stripe, then stored
in D1 from a re-read of the account (the same path `account.updated` takes)."""

from __future__ import annotations

import uuid

from starlette.requests import Request

from backend.core.errors import Forbidden, InvalidRequest
from backend.core.models import PayoutScheduleRequest, StatusReply
from backend.edge.auth import bearer_token
from backend.routes.connect import require_account, spend_stripe
from backend.services import read_model, services
from backend.webhooks.sync import sync_account


def check_schedule(body: PayoutScheduleRequest) -> None:
    """Each interval takes only its own anchor (and weekly/monthly need theirs): a 400 here
    rather than Stripe's error passed through."""
    if body.interval == "weekly" and body.weekly_anchor is None:
        raise InvalidRequest(
            code="weekly_anchor_required", message="A weekly schedule needs weekly_anchor."
        )
    if body.interval == "monthly" and body.monthly_anchor is None:
        raise InvalidRequest(
            code="monthly_anchor_required", message="A monthly schedule needs monthly_anchor."
        )
    if body.interval != "weekly" and body.weekly_anchor is not None:
        raise InvalidRequest(
            code="invalid_schedule", message="weekly_anchor is only for a weekly schedule."
        )
    if body.interval != "monthly" and body.monthly_anchor is not None:
        raise InvalidRequest(
            code="invalid_schedule", message="monthly_anchor is only for a monthly schedule."
        )
    if body.interval == "manual" and body.delay_days is not None:
        raise InvalidRequest(
            code="invalid_schedule", message="delay_days is only for an automatic schedule."
        )


async def set_payout_schedule(request: Request) -> StatusReply:
    svc = services(request)
    bearer_token(request)  # 401 before any 400 about the body
    body = await read_model(request, PayoutScheduleRequest)
    access = await svc.auth.manager_access(request, body.organization_id)
    allowed = svc.settings.payout_schedule_intervals
    if body.interval not in allowed:
        raise Forbidden(
            code="payout_schedule_not_allowed",
            message=f"This platform does not offer {body.interval} payouts; choose one of "
            f"{', '.join(allowed)}.",
        )
    check_schedule(body)
    account_id = require_account(access.organization)
    spend_stripe(svc, access)
    await svc.stripe.update_payout_schedule(
        account_id,
        interval=body.interval,
        weekly_anchor=body.weekly_anchor,
        monthly_anchor=body.monthly_anchor,
        delay_days=body.delay_days,
        request_key=uuid.uuid4().hex,
    )
    org = await sync_account(svc, access.organization.id, account_id)
    return StatusReply.of(org)
