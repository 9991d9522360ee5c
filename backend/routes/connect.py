"""The frontend-facing Connect routes: onboarding, status, transfer, balance, payout, login link,
account session.

Each parses, authorizes, calls and returns its reply model (`backend/edge/endpoints.py` answers it).
"""

from __future__ import annotations

import logging
import uuid

from starlette.requests import Request

from backend.core.errors import ApiError, Conflict, Forbidden, InvalidRequest
from backend.core.models import (
    AccountSessionReply,
    AccountSessionRequest,
    BalanceReply,
    LoginLinkReply,
    LoginLinkRequest,
    OnboardReply,
    OnboardRequest,
    PayoutReply,
    PayoutRequest,
    Reply,
    StatusReply,
    TransferReply,
    TransferRequest,
)
from backend.core.records import AccountProfile
from backend.edge.auth import OrgAccess, bearer_token, require_same_organization
from backend.edge.endpoints import Answer
from backend.edge.idempotency import require_idempotency_key
from backend.edge.query import query_values
from backend.edge.redirects import resolve_redirect
from backend.edge.service_keys import caller_of
from backend.ledger.payout_flow import payout as run_payout
from backend.ledger.transfer_flow import transfer as run_transfer
from backend.services import Services, read_model, services
from backend.stripe_side.account_profiles import has_stripe_dashboard, profile_of
from backend.stripe_side.embedded_components import components_for
from backend.webhooks.sync import sync_account
from backend.worker_side.worker_client import WorkerError
from backend.worker_side.worker_models import Organization

logger = logging.getLogger("backend.connect")

REPLAYED = {"Idempotent-Replayed": "true"}


def _org_from(request: Request, body_org: str | None) -> str:
    if body_org is not None:
        require_same_organization(request, body_org)
    org_id = body_org or request.headers.get("x-org-id")
    if not org_id:
        bearer_token(request)  # no token is 401 before a missing org is 400
        raise InvalidRequest(
            code="organization_required", message="Send organization_id or X-Org-ID."
        )
    return org_id


def spend_stripe(svc: Services, access: OrgAccess) -> None:
    """A member's action is about to call Stripe: the user's, the organization's and the
    platform's user budget each give a token, or it is a 429 (`backend/edge/rate_limits.py`)."""
    svc.limits.spend_stripe(user_id=access.user_id, organization_id=access.organization.id)


def require_account(org: Organization) -> str:
    if not org.stripe_connect_account_id:
        raise Conflict(
            code="no_connect_account", message="The organization has no Stripe account yet."
        )
    return org.stripe_connect_account_id


# --- onboarding --------------------------------------------------------------------------------


async def _store_account(
    svc: Services, organization_id: str, account_id: str, profile: AccountProfile
) -> str:
    try:
        result = await svc.worker.create_connect_account(
            organization_id, account_id, profile=profile
        )
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


async def onboard(request: Request) -> OnboardReply:
    svc = services(request)
    bearer_token(request)  # 401 before any 400 about the body
    body = await read_model(request, OnboardRequest, optional=True)
    org_id = _org_from(request, body.organization_id)
    access = await svc.auth.manager_access(request, org_id)
    if svc.settings.onboarding_requires_verified_email and not access.email_verified:
        raise Forbidden(
            code="email_not_verified",
            message="Verify your email address before setting up payments.",
        )
    origins = svc.settings.frontend_origins
    return_url = resolve_redirect(
        body.return_url, body.return_path, origins=origins, purpose="return"
    )
    refresh_url = resolve_redirect(
        body.refresh_url, body.refresh_path, origins=origins, purpose="refresh"
    )
    account_id = access.organization.stripe_connect_account_id
    spend_stripe(svc, access)
    if not account_id:
        profile = svc.settings.connect_account_profile
        account = await svc.stripe.create_account(org_id, profile=profile)
        account_id = await _store_account(svc, org_id, account.id, profile_of(account.raw))
    link = await svc.stripe.create_account_link(
        account_id, refresh_url=refresh_url, return_url=return_url, request_key=uuid.uuid4().hex
    )
    return OnboardReply(url=link.url, expires_at=link.expires_at, account_id=account_id)


# --- status ------------------------------------------------------------------------------------


async def _status(request: Request, org_id: str) -> StatusReply:
    svc = services(request)
    access = await svc.auth.organization_access(request, org_id)  # 401/403 before any 400
    org = access.organization
    if query_values(request).get("refresh") is True and org.stripe_connect_account_id:
        spend_stripe(svc, access)
        org = await sync_account(svc, org.id, org.stripe_connect_account_id)
    return StatusReply.of(org)


async def status_by_path(request: Request) -> StatusReply:
    return await _status(request, request.path_params["org_id"])


async def status_by_header(request: Request) -> StatusReply:
    return await _status(request, _org_from(request, None))


# --- platform-fee transfer ---------------------------------------------------------------------


def _answer(reply: Reply, *, refused: str | None, code: str, replayed: bool) -> Answer:
    """A ledger row as the reply, or, when Stripe refused it, the refusal; both replayed alike."""
    headers = REPLAYED if replayed else {}
    if refused is not None:
        raise ApiError(400, code, refused, headers=headers)
    return Answer(reply, headers)


async def transfer(request: Request) -> Answer:
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
    member: OrgAccess | None = None  # the platform's own calls spend no user budget
    if caller == "member":
        member = await svc.auth.manager_access(request, body.organization_id)
        org = member.organization
    else:
        org = await svc.worker.get_organization(body.organization_id)
    if caller != "operator" and (body.source_transaction is None or body.reason is not None):
        raise Forbidden(
            code="operator_key_required",
            message="A transfer must name the payment it pays out (source_transaction); only "
            "the operator may transfer without one, with a reason.",
        )
    if member is not None:
        spend_stripe(svc, member)
    outcome = await run_transfer(svc, org, key=key, body=body, initiated_by=caller)
    row = outcome.row
    failed = row.status == "failed"
    return _answer(
        TransferReply.model_validate(row, from_attributes=True),
        refused=(row.failure_message or "Stripe refused the transfer.") if failed else None,
        code="transfer_failed",
        replayed=outcome.replayed,
    )


# --- balance, payout, login link ---------------------------------------------------------------


async def balance(request: Request) -> BalanceReply:
    svc = services(request)
    access = await svc.auth.organization_access(request, request.path_params["org_id"])
    account_id = require_account(access.organization)
    spend_stripe(svc, access)
    available, pending = await svc.stripe.retrieve_balance(account_id)
    return BalanceReply(
        organization_id=access.organization.id, available=available, pending=pending
    )


async def payout(request: Request) -> Answer:
    svc = services(request)
    bearer_token(request)  # 401 before any 400 about the body
    key = require_idempotency_key(request)
    body = await read_model(request, PayoutRequest)
    access = await svc.auth.manager_access(request, body.organization_id)
    await _refuse_on_automatic_schedule(svc, access.organization, key)
    spend_stripe(svc, access)
    outcome = await run_payout(svc, access.organization, key=key, body=body)
    row = outcome.row
    if row.status == "refused" or row.stripe_payout_id is None:
        refused: str | None = row.failure_message or "Stripe refused the payout."
    else:
        refused = None
    reply = PayoutReply(
        organization_id=row.organization_id,
        payout_id=row.stripe_payout_id or "",
        amount=row.amount,
        currency=row.currency,
        status=row.status,
        arrival_date=row.arrival_date,
    )
    return _answer(reply, refused=refused, code="payout_failed", replayed=outcome.replayed)


async def _refuse_on_automatic_schedule(svc: Services, org: Organization, key: str) -> None:
    """Stripe refuses a manual payout on an automatic schedule (for most accounts): say so before
    calling it. A replay of a payout made while the schedule was manual still answers as before."""
    if org.payout_schedule_interval == "manual":
        return
    if await svc.worker.find_payout(org.id, key) is not None:
        return
    raise Conflict(
        code="automatic_payouts",
        message=f"Stripe pays this organization out automatically ({org.payout_schedule_interval}"
        "); switch the payout schedule to manual to pay out now.",
    )


async def login_link(request: Request) -> LoginLinkReply:
    svc = services(request)
    bearer_token(request)  # 401 before any 400 about the body
    body = await read_model(request, LoginLinkRequest)
    access = await svc.auth.manager_access(request, body.organization_id)
    account_id = require_account(access.organization)
    if not has_stripe_dashboard(access.organization.stripe_connect_account_profile):
        raise Conflict(
            code="no_stripe_dashboard",
            message="This organization's account has no Stripe dashboard: manage it here, "
            "through account management (POST /api/connect/account-session).",
        )
    if not access.organization.details_submitted:
        raise Conflict(
            code="account_not_ready", message="Finish onboarding before opening the dashboard."
        )
    spend_stripe(svc, access)
    url = await svc.stripe.create_login_link(account_id, request_key=uuid.uuid4().hex)
    return LoginLinkReply(url=url)


NOT_CACHED = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def account_session(request: Request) -> Answer:
    """A fresh Account Session for Stripe's embedded components, with the components the caller's
    role may use (`backend/stripe_side/embedded_components.py`). The role is read fresh, never from
    the cache: it decides what the client secret grants. The secret is single use and short-lived;
    it is never stored, logged or cached."""
    svc = services(request)
    bearer_token(request)  # 401 before any 400 about the body
    body = await read_model(request, AccountSessionRequest)
    access = await svc.auth.organization_access(request, body.organization_id, fresh=True)
    account_id = require_account(access.organization)
    components = components_for(access.role)
    spend_stripe(svc, access)
    session = await svc.stripe.create_account_session(account_id, components=components)
    reply = AccountSessionReply(
        organization_id=access.organization.id,
        account_id=session.account,
        client_secret=session.client_secret,
        expires_at=session.expires_at,
        components=sorted(name for name, c in session.components.items() if c.get("enabled")),
    )
    return Answer(reply, NOT_CACHED)
