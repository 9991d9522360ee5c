"""The platform fee is the platform's revenue: only the operator sets it, never an org's members."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from backend.core.errors import ApiError
from backend.core.models import PlatformFeeRequest, ReconcileReply, StatusReply
from backend.reconciliation.reconciler import Reconciler
from backend.services import Services, read_model, services
from backend.webhooks.webhook_processing import process_event


def _operator(request: Request) -> Services:
    """The services, for a request carrying the operator key (compared in constant time); the
    operator routes do not exist where no key is configured."""
    svc = services(request)
    configured = svc.settings.operator_api_key
    if configured is None:
        raise ApiError(404, "not_found", "Not found.")
    presented = request.headers.get("x-operator-key", "")
    if not hmac.compare_digest(presented.encode(), configured.get_secret_value().encode()):
        raise ApiError(401, "invalid_operator_key", "Missing or invalid operator key.")
    return svc


async def set_platform_fee(request: Request) -> StatusReply:
    svc = _operator(request)
    body = await read_model(request, PlatformFeeRequest)
    org = await svc.worker.set_platform_fee(
        body.organization_id, percent=body.platform_fee_percent, fixed=body.platform_fee_fixed
    )
    return StatusReply.of(org)


async def reconcile(request: Request) -> ReconcileReply:
    """Settle unknown ledger rows and replay missed events now (what the cron runs)."""
    return await Reconciler(_operator(request), process_event).run()
