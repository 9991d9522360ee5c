"""Payments the platform collects for an organization: created by the platform's checkout
(platform key), listed for the org's owners/admins while not yet transferred, and the org's
"transfer each payment as it lands" setting."""

from __future__ import annotations

from starlette.requests import Request

from backend.core.errors import InvalidRequest
from backend.core.models import (
    AutoTransferRequest,
    PaymentIntentReply,
    PaymentIntentRequest,
    PaymentReply,
    PaymentsReply,
    StatusReply,
)
from backend.core.records import PaymentFields
from backend.core.roles import MANAGER_ROLES
from backend.edge.auth import bearer_token
from backend.edge.idempotency import require_idempotency_key
from backend.edge.service_keys import require_platform_key
from backend.money.fees import FeeError, compute_fee, normalise_currency, validate_amount
from backend.services import read_model, services
from backend.stripe_side.stripe_gateway import idempotency_key
from backend.worker_side.worker_models import Organization, Payment


async def create_payment_intent(request: Request) -> PaymentIntentReply:
    """The platform's checkout asks for a payment for an organization's sale. The PaymentIntent
    carries `metadata.organization_id` (only the platform can set it: this is the tag a transfer
    checks) and a transfer group. Idempotent by `Idempotency-Key`."""
    svc = services(request)
    require_platform_key(request, svc.settings.platform_api_key)
    key = require_idempotency_key(request)
    body = await read_model(request, PaymentIntentRequest)
    try:
        currency = normalise_currency(body.currency)
        validate_amount(body.amount, currency)
    except FeeError as exc:
        raise InvalidRequest(code="invalid_amount", message=str(exc)) from None
    org = await svc.worker.get_organization(body.organization_id)  # 404 for an unknown org
    intent = await svc.stripe.create_payment_intent(
        organization_id=org.id,
        amount=body.amount,
        currency=currency,
        transfer_group=body.transfer_group or f"org_{org.id}",
        description=body.description,
        key=idempotency_key("payment-intent", org.id, key),
    )
    return PaymentIntentReply(
        organization_id=org.id, payment_intent_id=intent.id, **intent.model_dump(exclude={"id"})
    )


async def untransferred_payments(request: Request) -> PaymentsReply:
    """What the organization earned and has not been transferred yet (owners/admins claim it)."""
    svc = services(request)
    access = await svc.auth.organization_access(
        request, request.path_params["org_id"], roles=MANAGER_ROLES
    )
    org = access.organization
    rows = await svc.worker.list_untransferred_payments(org.id)
    return PaymentsReply(
        organization_id=org.id,
        auto_transfer_payments=org.auto_transfer_payments,
        payments=[_previewed(org, p) for p in rows],
    )


def _previewed(org: Organization, payment: Payment) -> PaymentReply:
    """The payment with the fee and net its transfer of all that is left would have."""
    fee, net = 0, 0
    if payment.amount_remaining > 0 and not payment.disputed:
        try:
            breakdown = compute_fee(
                payment.amount_remaining,
                percent=org.platform_fee_percent,
                fixed_amount=org.platform_fee_fixed,
                currency=payment.currency,
            )
        except FeeError:
            pass  # an amount no transfer can take: nothing previewed
        else:
            fee, net = breakdown.fee_amount, breakdown.net_amount
    fields = PaymentFields.model_fields
    values = {name: getattr(payment, name) for name in fields}
    return PaymentReply(**values, fee_amount=fee, net_amount=net)


async def set_auto_transfer(request: Request) -> StatusReply:
    """Owners/admins choose whether each payment is transferred as it succeeds. Either way only
    the organization's own payments move, so this is theirs to choose."""
    svc = services(request)
    bearer_token(request)
    body = await read_model(request, AutoTransferRequest)
    await svc.auth.manager_access(request, body.organization_id)
    org = await svc.worker.set_auto_transfer(body.organization_id, enabled=body.enabled)
    return StatusReply.of(org)
