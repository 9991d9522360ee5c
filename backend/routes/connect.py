"""The frontend-facing Connect routes: onboarding, status, transfer, balance, payout, login link."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid

from starlette.requests import Request
from starlette.responses import Response

from backend.auth import MANAGER_ROLES, OrgAccess, bearer_token
from backend.errors import ApiError, Conflict, Forbidden, InvalidRequest, error_response
from backend.fees import FeeError, normalise_currency, validate_amount
from backend.idempotency import require_idempotency_key
from backend.ledger_rules import check_same_request as _check_same_request
from backend.ledger_rules import key_reused as _key_reused
from backend.ledger_rules import outcome_unknown as _outcome_unknown
from backend.ledger_rules import require_ready
from backend.ledger_rules import too_old_to_resend as _too_old_to_resend
from backend.models import (
    BalanceReply,
    LedgerPayout,
    LedgerTransfer,
    LoginLinkReply,
    LoginLinkRequest,
    OnboardReply,
    OnboardRequest,
    Organization,
    PayoutReply,
    PayoutRequest,
    StatusReply,
    TransferReply,
    TransferRequest,
)
from backend.payout_amount import full_available_balance
from backend.redirects import resolve_redirect
from backend.service_keys import caller_of
from backend.services import Services, read_model, services
from backend.stripe_gateway import idempotency_key, is_definitive
from backend.sync import sync_account
from backend.transfer_flow import transfer as run_transfer
from backend.worker_client import WorkerError

logger = logging.getLogger("backend.connect")


def _reply(
    model: TransferReply | OnboardReply | StatusReply | BalanceReply | PayoutReply | LoginLinkReply,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    # pydantic's own serializer: a quarter of the cost of model_dump + json.dumps on the hot path.
    return Response(
        model.model_dump_json(), status_code=status, headers=headers, media_type="application/json"
    )


def _org_from(request: Request, body_org: str | None) -> str:
    header_org = request.headers.get("x-org-id")
    if body_org is not None and header_org is not None and body_org != header_org:
        raise InvalidRequest(
            code="organization_mismatch", message="organization_id and X-Org-ID differ."
        )
    org_id = body_org or header_org
    if not org_id:
        bearer_token(request)  # no token is 401 before a missing org is 400
        raise InvalidRequest(
            code="organization_required", message="Send organization_id or X-Org-ID."
        )
    return org_id


def _require_account(org: Organization) -> str:
    if not org.stripe_connect_account_id:
        raise Conflict(
            code="no_connect_account", message="The organization has no Stripe account yet."
        )
    return org.stripe_connect_account_id


def _require_ready(org: Organization) -> str:
    return require_ready(
        org.stripe_connect_account_id,
        status=org.stripe_connect_status,
        payouts_enabled=org.payouts_enabled,
    )


# --- onboarding --------------------------------------------------------------------------------


async def _store_account(svc: Services, organization_id: str, account_id: str) -> str:
    try:
        result = await svc.worker.create_connect_account(organization_id, account_id)
    except WorkerError as exc:
        if exc.status != 409:
            raise
        # Someone else stored an account first: theirs is the organization's account.
        stored = (await svc.worker.get_organization(organization_id)).stripe_connect_account_id
        if not stored:
            raise
        if stored != account_id:
            logger.warning(
                "org %s already holds %s; %s is unused", organization_id, stored, account_id
            )
        return stored
    return result.organization.stripe_connect_account_id or account_id


async def onboard(request: Request) -> Response:
    svc = services(request)
    bearer_token(request)  # 401 before any 400 about the body
    body = await read_model(request, OnboardRequest, optional=True)
    org_id = _org_from(request, body.organization_id)
    access = await svc.auth.organization_access(request, org_id, roles=MANAGER_ROLES, fresh=True)
    origins = svc.settings.frontend_origins
    return_url = resolve_redirect(
        body.return_url, body.return_path, origins=origins, purpose="return"
    )
    refresh_url = resolve_redirect(
        body.refresh_url, body.refresh_path, origins=origins, purpose="refresh"
    )
    account_id = access.organization.stripe_connect_account_id
    if not account_id:
        account = await svc.stripe.create_express_account(org_id)
        account_id = await _store_account(svc, org_id, account.id)
    link = await svc.stripe.create_account_link(
        account_id, refresh_url=refresh_url, return_url=return_url, request_key=uuid.uuid4().hex
    )
    return _reply(OnboardReply(url=link.url, expires_at=link.expires_at, account_id=account_id))


# --- status ------------------------------------------------------------------------------------


def _refresh_flag(request: Request) -> bool:
    value = request.query_params.get("refresh")
    if value is None or value.lower() in ("false", "0", ""):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise InvalidRequest(message="refresh must be true or false.")


async def _status(request: Request, org_id: str) -> Response:
    svc = services(request)
    access = await svc.auth.organization_access(request, org_id)  # 401/403 before any 400
    org = access.organization
    if _refresh_flag(request) and org.stripe_connect_account_id:
        org = await sync_account(svc, org.id, org.stripe_connect_account_id)
    return _reply(StatusReply.of(org))


async def status_by_path(request: Request) -> Response:
    return await _status(request, request.path_params["org_id"])


async def status_by_header(request: Request) -> Response:
    return await _status(request, _org_from(request, None))


# --- platform-fee transfer ---------------------------------------------------------------------


def _transfer_reply(row: LedgerTransfer, *, replayed: bool) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    if row.status == "failed":
        return error_response(
            400,
            "transfer_failed",
            row.failure_message or "Stripe refused the transfer.",
            headers=headers,
        )
    reply = TransferReply(
        organization_id=row.organization_id,
        idempotency_key=row.idempotency_key,
        gross_amount=row.gross_amount,
        fee_amount=row.fee_amount,
        net_amount=row.net_amount,
        currency=row.currency,
        stripe_transfer_id=row.stripe_transfer_id,
        status=row.status,
        source_transaction=row.source_transaction,
        reason=row.reason,
    )
    return _reply(reply, 201, headers)


async def transfer(request: Request) -> Response:
    """An owner/admin claims a payment made for their organization; the platform's services
    (`X-Platform-Key`) may transfer any organization's payment; only the operator
    (`X-Operator-Key`) may transfer without a payment (an adjustment, with a reason)."""
    svc = services(request)
    settings = svc.settings
    caller = caller_of(
        request, platform=settings.platform_api_key, operator=settings.operator_api_key
    )
    if caller == "member":
        bearer_token(request)  # 401 before any 400 about the body
    key = require_idempotency_key(request)
    body = await read_model(request, TransferRequest)
    if caller == "member":
        access = await svc.auth.organization_access(
            request, body.organization_id, roles=MANAGER_ROLES, fresh=True
        )
        org = access.organization
    else:
        org = await svc.worker.get_organization(body.organization_id)
    if caller != "operator" and (body.source_transaction is None or body.reason is not None):
        raise Forbidden(
            code="operator_key_required",
            message="A transfer must name the payment it pays out (source_transaction); only "
            "the operator may transfer without one, with a reason.",
        )
    outcome = await run_transfer(svc, org, key=key, body=body, initiated_by=caller)
    return _transfer_reply(outcome.row, replayed=outcome.replayed)


# --- balance, payout, login link ---------------------------------------------------------------


async def balance(request: Request) -> Response:
    svc = services(request)
    access = await svc.auth.organization_access(request, request.path_params["org_id"])
    account_id = _require_account(access.organization)
    available, pending = await svc.stripe.retrieve_balance(account_id)
    return _reply(
        BalanceReply(organization_id=access.organization.id, available=available, pending=pending)
    )


def _payout_hash(body: PayoutRequest) -> str:
    """The request as sent: an absent amount ("the available balance") stays absent here, while
    the reservation stores the amount it resolved to."""
    canonical = json.dumps(
        {
            "organization_id": body.organization_id,
            "amount": body.amount,
            "currency": body.currency.lower(),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _payout_reply(row: LedgerPayout, *, replayed: bool) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    if row.status == "refused" or row.stripe_payout_id is None:
        return error_response(
            400,
            "payout_failed",
            row.failure_message or "Stripe refused the payout.",
            headers=headers,
        )
    reply = PayoutReply(
        organization_id=row.organization_id,
        payout_id=row.stripe_payout_id,
        amount=row.amount,
        currency=row.currency,
        status=row.status,
        arrival_date=row.arrival_date,
    )
    return _reply(reply, 201, headers)


async def _stored_payout(
    svc: Services, org_id: str, key: str, request_hash: str
) -> LedgerPayout | None:
    stored = await svc.worker.find_payout(org_id, key)
    if stored is not None:
        _check_same_request(stored.request_hash or "", request_hash)
    return stored


async def payout(request: Request) -> Response:
    svc = services(request)
    bearer_token(request)  # 401 before any 400 about the body
    key = require_idempotency_key(request)
    body = await read_model(request, PayoutRequest)
    access: OrgAccess = await svc.auth.organization_access(
        request, body.organization_id, roles=MANAGER_ROLES, fresh=True
    )
    org = access.organization
    request_hash = _payout_hash(body)
    try:
        account_id = _require_ready(org)
    except Conflict:
        # As for transfers: a finished payout is replayed whatever the account's state now.
        stored = await _stored_payout(svc, org.id, key, request_hash)
        if stored is None or stored.status == "reserved":
            raise
        return _payout_reply(stored, replayed=True)
    currency = normalise_currency(body.currency)
    amount = body.amount
    if amount is None:
        # "The available balance" means the balance of the first request, not of a replay.
        stored = await _stored_payout(svc, org.id, key, request_hash)
        if stored is not None:
            return await _execute_payout(svc, stored, replayed=True)
        available, pending = await svc.stripe.retrieve_funds(account_id)
        amount = full_available_balance(available, pending, currency=currency)
    try:
        validate_amount(amount, currency)
    except FeeError as exc:
        raise InvalidRequest(code="invalid_amount", message=str(exc)) from None
    try:
        reserved = await svc.worker.reserve_payout(
            organization_id=org.id,
            idempotency_key=key,
            request_hash=request_hash,
            amount=amount,
            currency=currency,
            stripe_account_id=account_id,
        )
    except WorkerError as exc:
        if exc.code == "idempotency_key_reused":
            raise _key_reused() from None
        raise
    return await _execute_payout(svc, reserved.payout, replayed=not reserved.created)


async def _execute_payout(svc: Services, row: LedgerPayout, *, replayed: bool) -> Response:
    """Send the reserved (possibly retried) payout with the amount stored in the ledger."""
    if row.status != "reserved":
        return _payout_reply(row, replayed=True)
    if replayed and _too_old_to_resend(row.updated_at):  # a reserved row's updated_at: reserved
        raise _outcome_unknown("payout")
    key = row.idempotency_key or ""
    account_id = row.stripe_account_id or ""
    try:
        sent = await svc.stripe.create_payout(
            account_id,
            amount=row.amount,
            currency=row.currency,
            key=idempotency_key("payout", row.organization_id, key),
            metadata={"organization_id": row.organization_id, "idempotency_key": key},
        )
    except ApiError as exc:
        if not is_definitive(exc):
            raise  # left reserved: a retry with the same key finishes it
        done = await svc.worker.refuse_payout(
            row.organization_id, key, failure_code=None, failure_message=exc.message
        )
        return _payout_reply(done, replayed=False)
    done = await svc.worker.upsert_payout(
        stripe_payout_id=sent.id,
        organization_id=row.organization_id,
        stripe_account_id=account_id,
        amount=sent.amount,
        currency=sent.currency,
        status=sent.status,
        failure_code=sent.failure_code,
        failure_message=sent.failure_message,
        arrival_date=sent.arrival_date,
        event_created=sent.created,
        idempotency_key=key,
    )
    return _payout_reply(done, replayed=replayed)


async def login_link(request: Request) -> Response:
    svc = services(request)
    bearer_token(request)  # 401 before any 400 about the body
    body = await read_model(request, LoginLinkRequest)
    access = await svc.auth.organization_access(
        request, body.organization_id, roles=MANAGER_ROLES, fresh=True
    )
    account_id = _require_account(access.organization)
    if not access.organization.details_submitted:
        raise Conflict(
            code="account_not_ready", message="Finish onboarding before opening the dashboard."
        )
    url = await svc.stripe.create_login_link(account_id, request_key=uuid.uuid4().hex)
    return _reply(LoginLinkReply(url=url))
