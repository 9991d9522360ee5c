"""Route handlers: validated input → (status, JSON body). SQL lives in the table modules."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connect_worker import organizations, payments, payouts, sessions, transfers, webhook_events
from connect_worker.clock import Clock, iso_ms, parse_timestamp
from connect_worker.config import (
    MAX_RETENTION_DAYS,
    MIN_LEDGER_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    WorkerConfig,
)
from connect_worker.d1 import D1Database, D1Error, Row
from connect_worker.errors import (
    ApiError,
    Conflict,
    Forbidden,
    InvalidRequest,
    InvalidToken,
    NotFound,
    StripeIdConflict,
)
from connect_worker.jwt import (
    Ed25519Verifier,
    claims_acceptable,
    looks_like_jwt,
    parse_jwt,
    verify_signature,
)
from connect_worker.session_tokens import parse_session_token
from connect_worker.validation import (
    MAX_SAFE_INTEGER,
    MAX_TOKEN,
    Field,
    boolean,
    free_text,
    integer,
    nullable,
    number,
    optional,
    required,
    string,
    string_list,
    validate_object,
)

Result = tuple[int, dict[str, Any]]

log = logging.getLogger("connect_worker")

ACCOUNT_ID = r"acct_[A-Za-z0-9]{1,100}"
CURRENCY = r"[a-z]{3}"
MAX_AMOUNT = 10**12
MAX_FIXED_FEE = 10_000_000
PAYOUT_STATUSES = ("pending", "in_transit", "paid", "failed", "canceled")


def _new_claim_id() -> str:
    return secrets.token_urlsafe(18)


@dataclass(frozen=True, slots=True)
class Deps:
    """Everything a handler needs; the runtime adapter builds this once."""

    config: WorkerConfig
    db: D1Database
    verifier: Ed25519Verifier
    now: Clock = time.time
    new_claim_id: Callable[[], str] = field(default=_new_claim_id)


def organization_not_found() -> NotFound:
    return NotFound("Organization not found.", code="organization_not_found")


# --- health ---------------------------------------------------------------------------------


async def health(deps: Deps, params: Mapping[str, str], body: None) -> Result:
    await deps.db.prepare("SELECT 1 AS ok").first()
    return 200, {"ok": True}


# --- verify-user-context --------------------------------------------------------------------

ID = string(max_len=128)
VERIFY_FIELDS = {
    "token": required(string(max_len=MAX_TOKEN)),
    "organization_id": optional(nullable(ID)),
}


async def verify_user_context(
    deps: Deps, params: Mapping[str, str], body: dict[str, Any]
) -> Result:
    token: str = body["token"]
    organization_id: str | None = body.get("organization_id")
    if looks_like_jwt(token):
        return await _verify_jwt(deps, token, organization_id)
    parsed = parse_session_token(
        token,
        secret=deps.config.better_auth_secret,
        require_signed=deps.config.require_signed_tokens,
    )
    if parsed is None:
        raise InvalidToken()
    principal = await sessions.load_by_session_token(deps.db, parsed.token, organization_id)
    row = principal.row
    if row is None:
        raise InvalidToken()
    expires_at = parse_timestamp(row["session_expires_at"])
    if expires_at is None or expires_at <= deps.now():
        raise InvalidToken()
    session = {
        "id": row["session_id"],
        "expires_at": row["session_expires_at"],
        "active_organization_id": row["active_organization_id"],
    }
    return 200, _context(principal, organization_id, "session", session)


async def _verify_jwt(deps: Deps, token: str, organization_id: str | None) -> Result:
    parsed = parse_jwt(token)
    if parsed is None or parsed.subject is None:
        raise InvalidToken()
    if not claims_acceptable(
        parsed.claims,
        now=deps.now(),
        issuer=deps.config.jwt_issuer,
        audience=deps.config.jwt_audience,
    ):
        raise InvalidToken()
    principal = await sessions.load_by_jwt(deps.db, parsed.kid, parsed.subject, organization_id)
    jwk = principal.jwk
    if jwk is None or jwk.get("alg") not in (None, "EdDSA"):
        raise InvalidToken()
    if not await verify_signature(parsed, str(jwk["public_key"]), deps.verifier):
        raise InvalidToken()
    if principal.row is None:
        raise InvalidToken()
    return 200, _context(principal, organization_id, "jwt", None)


def _context(
    principal: sessions.Principal,
    organization_id: str | None,
    token_type: str,
    session: dict[str, Any] | None,
) -> dict[str, Any]:
    row = principal.row
    assert row is not None
    memberships = [
        {"organization_id": m["organization_id"], "role": m["role"]} for m in principal.memberships
    ]
    organization: dict[str, Any] | None = None
    role: str | None = None
    if organization_id is not None:
        # Same answer for an organization that does not exist and one the user is not in.
        if principal.organization is None:
            raise Forbidden("Not a member of this organization.")
        organization = organizations.to_api(principal.organization)
        role = next(m["role"] for m in memberships if m["organization_id"] == organization_id)
    return {
        "user": {
            "id": row["user_id"],
            "name": row["user_name"],
            "email": row["user_email"],
            "email_verified": bool(row["user_email_verified"]),
            "image": row["user_image"],
        },
        "session": session,
        "token_type": token_type,
        "active_organization_id": session["active_organization_id"] if session else None,
        "memberships": memberships,
        "organization": organization,
        "role": role,
    }


# --- organizations --------------------------------------------------------------------------


def _org_result(row: Row | None, status: int = 200, **extra: Any) -> Result:
    if row is None:
        raise organization_not_found()
    return status, {**extra, "organization": organizations.to_api(row)}


def _path_id(params: Mapping[str, str], name: str) -> str | None:
    value = params[name]
    return value if 0 < len(value) <= 255 else None


async def get_organization(deps: Deps, params: Mapping[str, str], body: None) -> Result:
    org_id = _path_id(params, "id")
    return _org_result(await organizations.get(deps.db, org_id) if org_id else None)


async def get_organization_by_account(deps: Deps, params: Mapping[str, str], body: None) -> Result:
    account_id = _path_id(params, "stripe_account_id")
    row = await organizations.get_by_account(deps.db, account_id) if account_id else None
    return _org_result(row)


UPDATE_FIELD_SPECS: dict[str, Field] = {
    "stripe_connect_status": optional(string(choices=organizations.CONNECT_STATUSES)),
    "onboarding_step": optional(string(choices=organizations.ONBOARDING_STEPS)),
    "onboarding_rejection_reason": optional(nullable(free_text(max_len=500))),
    "charges_enabled": optional(boolean()),
    "payouts_enabled": optional(boolean()),
    "details_submitted": optional(boolean()),
    "requirements_currently_due": optional(string_list()),
    "requirements_past_due": optional(string_list()),
    "requirements_disabled_reason": optional(nullable(string(max_len=256))),
    "requirements_current_deadline": optional(nullable(integer(min_value=0, max_value=2**53))),
}
assert tuple(UPDATE_FIELD_SPECS) == organizations.UPDATABLE_COLUMNS


def _update_fields(value: Any, name: str) -> dict[str, Any]:
    fields = validate_object(value, UPDATE_FIELD_SPECS, name=name)
    if not fields:
        raise InvalidRequest(f"`{name}` must hold at least one field.")
    return fields


UPDATE_FIELDS = {
    "organization_id": required(ID),
    "fields": required(_update_fields),
    # Unix seconds, fractional allowed: two re-reads that start within one second must still be
    # ordered, or the one that started first (and saw the older state) can land last and win.
    "synced_at": optional(nullable(number(min_value=0, max_value=MAX_SAFE_INTEGER))),
}


async def update_organization(
    deps: Deps, params: Mapping[str, str], body: dict[str, Any]
) -> Result:
    updated, row = await organizations.update_fields(
        deps.db, body["organization_id"], body["fields"], synced_at=body.get("synced_at")
    )
    return _org_result(row, updated=updated)


CREATE_ACCOUNT_FIELDS = {
    "organization_id": required(ID),
    "stripe_account_id": required(string(pattern=ACCOUNT_ID)),
}


async def create_connect_account(
    deps: Deps, params: Mapping[str, str], body: dict[str, Any]
) -> Result:
    org_id, account_id = body["organization_id"], body["stripe_account_id"]
    try:
        created, row = await organizations.set_connect_account(deps.db, org_id, account_id)
    except D1Error as exc:
        if not exc.is_constraint:
            raise
        # Another request stored this account id on another organization in between.
        created, row = False, await organizations.get(deps.db, org_id)
    if row is None:
        raise organization_not_found()
    if created:
        return _org_result(row, 201, created=True)
    if row["stripe_connect_account_id"] == account_id:
        return _org_result(row, 200, created=False)
    raise Conflict(
        "The organization already has a different Connect account, or the account belongs to "
        "another organization.",
        code="account_conflict",
    )


def _fee_percent(deps_config: WorkerConfig) -> Callable[[Any, str], float]:
    bounded = number(
        min_value=deps_config.platform_fee_min_percent,
        max_value=deps_config.platform_fee_max_percent,
    )

    def check(value: Any, name: str) -> float:
        percent = float(bounded(value, name))
        if abs(round(percent, 2) - percent) > 1e-9:
            raise InvalidRequest(f"`{name}` may have at most two decimals.")
        return round(percent, 2)

    return check


async def set_platform_fee(deps: Deps, params: Mapping[str, str], body: Any) -> Result:
    # The percent bounds come from configuration, so this body is validated here, not in the table.
    values = validate_object(
        body,
        {
            "organization_id": required(ID),
            "platform_fee_percent": required(_fee_percent(deps.config)),
            "platform_fee_fixed": optional(integer(min_value=0, max_value=MAX_FIXED_FEE)),
        },
    )
    row = await organizations.set_platform_fee(
        deps.db,
        values["organization_id"],
        percent=values["platform_fee_percent"],
        fixed=values.get("platform_fee_fixed"),
    )
    return _org_result(row)


# --- webhook events -------------------------------------------------------------------------

CLAIM_FIELDS = {
    "event_id": required(ID),
    "event_type": required(string(max_len=128)),
    "event_created": required(integer(min_value=0, max_value=MAX_SAFE_INTEGER)),
    "stripe_account_id": optional(nullable(ID)),
    "lease_seconds": optional(integer(min_value=1, max_value=900)),
}


async def claim_webhook_event(
    deps: Deps, params: Mapping[str, str], body: dict[str, Any]
) -> Result:
    now = deps.now()
    result = await webhook_events.claim(
        deps.db,
        event_id=body["event_id"],
        event_type=body["event_type"],
        event_created=body["event_created"],
        stripe_account_id=body.get("stripe_account_id"),
        claim_id=deps.new_claim_id(),
        now_ms=int(now * 1000),
        lease_ms=body.get("lease_seconds", 60) * 1000,
        received_at=iso_ms(now),
    )
    if result.claimed:
        return 200, {"claimed": True, "claim_id": result.claim_id, "attempts": result.attempts}
    return 200, {"claimed": False, "status": result.status}


COMPLETE_EVENT_FIELDS = {
    "event_id": required(ID),
    "claim_id": required(ID),
    # `rejected`: validly signed but not applicable (odd values, a Stripe id recorded elsewhere);
    # final like `processed`, with the reason in `error`.
    "outcome": required(string(choices=("processed", "failed", "rejected"))),
    "error": optional(nullable(free_text(max_len=500))),
}


async def complete_webhook_event(
    deps: Deps, params: Mapping[str, str], body: dict[str, Any]
) -> Result:
    done = await webhook_events.complete(
        deps.db,
        event_id=body["event_id"],
        claim_id=body["claim_id"],
        outcome=body["outcome"],
        error=body.get("error"),
        now_iso=iso_ms(deps.now()),
    )
    if not done:
        raise Conflict("This claim is no longer current.", code="claim_lost")
    return 200, {"status": body["outcome"]}


# --- transfers ------------------------------------------------------------------------------

AMOUNT = integer(min_value=0, max_value=MAX_AMOUNT)
CHARGE_ID = r"ch_[A-Za-z0-9]{1,100}"
PAYMENT_INTENT_ID = r"pi_[A-Za-z0-9]{1,100}"
INITIATORS = ("member", "platform", "operator", "automatic")
PAYMENT_FIELD_SPECS: dict[str, Field] = {
    "payment_intent_id": required(string(pattern=PAYMENT_INTENT_ID)),
    "organization_id": required(ID),
    "charge_id": optional(nullable(string(pattern=CHARGE_ID))),
    "amount": required(AMOUNT),
    "amount_refunded": required(AMOUNT),
    "currency": required(string(pattern=CURRENCY)),
    "status": required(string(max_len=64)),
    "created": required(integer(min_value=0, max_value=2**53)),
}


def _payment(value: Any, name: str) -> dict[str, Any]:
    payment = validate_object(value, PAYMENT_FIELD_SPECS, name=name)
    if payment["amount_refunded"] > payment["amount"]:
        raise InvalidRequest(f"`{name}.amount_refunded` exceeds `{name}.amount`.")
    return payment


RESERVE_FIELDS = {
    "organization_id": required(ID),
    "idempotency_key": required(string(min_len=1, max_len=255)),
    "request_hash": required(string(max_len=128)),
    "gross_amount": required(AMOUNT),
    "fee_amount": required(AMOUNT),
    "net_amount": required(AMOUNT),
    "currency": required(string(pattern=CURRENCY)),
    "stripe_account_id": required(string(pattern=ACCOUNT_ID)),
    # A payment's transfer names its charge and carries the payment as Stripe shows it now; an
    # adjustment (no source) carries the operator's reason instead.
    "source_transaction": optional(nullable(string(pattern=CHARGE_ID))),
    "payment": optional(nullable(_payment)),
    "reason": optional(nullable(free_text(max_len=500))),
    "initiated_by": optional(string(choices=INITIATORS)),
}


def _source_refusal(body: dict[str, Any], payment: Row | None) -> Conflict:
    """Why a payment's reservation took nothing (the caller checked the same from Stripe first;
    this is the answer for a payment that changed, or was taken, in between)."""
    if payment is None or payment["organization_id"] != body["organization_id"]:
        return Conflict(
            "This payment was not made for this organization.", code="source_not_for_organization"
        )
    if payment["currency"] != body["currency"]:
        return Conflict(
            f"This payment is in {payment['currency']}, not {body['currency']}.",
            code="source_currency_mismatch",
        )
    if payment["status"] != "succeeded":
        return Conflict("This payment has not succeeded.", code="source_not_succeeded")
    left = payments.to_api(payment)["amount_remaining"]
    return Conflict(f"Only {left} of this payment is left to transfer.", code="source_exhausted")


async def reserve_transfer(deps: Deps, params: Mapping[str, str], body: dict[str, Any]) -> Result:
    if body["fee_amount"] + body["net_amount"] != body["gross_amount"]:
        raise InvalidRequest("`fee_amount` + `net_amount` must equal `gross_amount`.")
    source = body.get("source_transaction")
    payment = body.get("payment")
    now_iso = iso_ms(deps.now())
    if source is None:
        if not body.get("reason"):
            raise InvalidRequest("A transfer without `source_transaction` needs a `reason`.")
        created, row, org_exists = await transfers.reserve(deps.db, body, now_iso=now_iso)
    else:
        if payment is None or payment.get("charge_id") != source:
            raise InvalidRequest(
                "`payment` must describe the charge named by `source_transaction`."
            )
        reservation = await transfers.reserve_from_source(deps.db, body, payment, now_iso=now_iso)
        created, row = reservation.created, reservation.row
        org_exists = reservation.organization_exists
        if org_exists and row is None:
            raise _source_refusal(body, reservation.payment)
    if not org_exists or row is None:
        raise organization_not_found()
    if created:
        return 201, {"created": True, "transfer": transfers.to_api(row)}
    if row["request_hash"] != body["request_hash"]:
        raise Conflict(
            "This idempotency key was used for a different request.",
            code="idempotency_key_reused",
        )
    return 200, {"created": False, "transfer": transfers.to_api(row)}


COMPLETE_TRANSFER_FIELDS = {
    "organization_id": required(ID),
    "idempotency_key": required(string(min_len=1, max_len=255)),
    "status": required(string(choices=("succeeded", "failed"))),
    "stripe_transfer_id": optional(nullable(ID)),
    "failure_message": optional(nullable(free_text(max_len=500))),
}


def transfer_not_found() -> NotFound:
    return NotFound("Transfer not found.", code="transfer_not_found")


async def get_transfer(deps: Deps, params: Mapping[str, str], body: None) -> Result:
    """A replay's lookup: the ledger row for (organization, idempotency key), if any."""
    org_id = _path_id(params, "organization_id")
    key = _path_id(params, "idempotency_key")
    row = None
    if org_id and key:
        row = await transfers.get(deps.db, organization_id=org_id, idempotency_key=key)
    if row is None:
        raise transfer_not_found()
    return 200, {"transfer": transfers.to_api(row)}


async def complete_transfer(deps: Deps, params: Mapping[str, str], body: dict[str, Any]) -> Result:
    row = await transfers.complete(
        deps.db,
        organization_id=body["organization_id"],
        idempotency_key=body["idempotency_key"],
        status=body["status"],
        stripe_transfer_id=body.get("stripe_transfer_id"),
        failure_message=body.get("failure_message"),
        now_iso=iso_ms(deps.now()),
    )
    if row is None:
        raise transfer_not_found()
    return 200, {"transfer": transfers.to_api(row)}


SYNC_TRANSFER_FIELDS = {
    "stripe_transfer_id": required(ID),
    "amount_reversed": required(AMOUNT),
    "reversed": required(boolean()),
    # The ledger row the Stripe transfer says it was made for (its metadata) and its money fields:
    # all five or none.
    "organization_id": optional(ID),
    "idempotency_key": optional(string(min_len=1, max_len=255)),
    "amount": optional(AMOUNT),
    "currency": optional(string(pattern=CURRENCY)),
    "destination": optional(ID),
}
_ORIGIN_FIELDS = ("organization_id", "idempotency_key", "amount", "currency", "destination")


def _stripe_origin(body: dict[str, Any]) -> transfers.StripeOrigin | None:
    given = [name for name in _ORIGIN_FIELDS if name in body]
    if not given:
        return None
    if len(given) != len(_ORIGIN_FIELDS):
        missing = next(name for name in _ORIGIN_FIELDS if name not in body)
        raise InvalidRequest(f"Missing field `{missing}`: send all of {', '.join(_ORIGIN_FIELDS)}.")
    return transfers.StripeOrigin(**{name: body[name] for name in _ORIGIN_FIELDS})


async def sync_transfer(deps: Deps, params: Mapping[str, str], body: dict[str, Any]) -> Result:
    origin = _stripe_origin(body)
    result = await transfers.sync(
        deps.db,
        stripe_transfer_id=body["stripe_transfer_id"],
        amount_reversed=body["amount_reversed"],
        reversed_=body["reversed"],
        origin=origin,
        now_iso=iso_ms(deps.now()),
    )
    if result.row is not None:
        return 200, {"transfer": transfers.to_api(result.row)}
    named = result.named_row
    if origin is not None and named is not None:
        # Our metadata, but the row cannot take this transfer: it is finished (possibly with
        # another Stripe transfer: money may have moved twice) or its money fields differ.
        log.warning(
            "transfer %s names a ledger row of organization %s that cannot take it: status=%s "
            "stripe_transfer_id=%s amount=%s/%s currency=%s/%s destination=%s/%s",
            body["stripe_transfer_id"],
            origin.organization_id,
            named["status"],
            named["stripe_transfer_id"],
            origin.amount,
            named["net_amount"],
            origin.currency,
            named["currency"],
            origin.destination,
            named["stripe_account_id"],
        )
        raise Conflict(
            "The ledger row named by this transfer's metadata does not match it.",
            code="transfer_mismatch",
        )
    raise transfer_not_found()


# --- payments -------------------------------------------------------------------------------


async def record_payment(deps: Deps, params: Mapping[str, str], body: Any) -> Result:
    """A payment as Stripe shows it (a `payment_intent.succeeded` or `charge.refunded` event, or
    the creation route): stored for the organization its metadata names. A payment already
    recorded for another organization, or with other money fields, is a 409."""
    payment = _payment(body, "body")
    written, row = await payments.record(deps.db, payment, now_iso=iso_ms(deps.now()))
    if row is None:  # pragma: no cover - the upsert always leaves a row
        raise ApiError("The payment could not be stored.")
    if not written:
        raise Conflict(
            "This payment is recorded for another organization or with other amounts.",
            code="payment_conflict",
        )
    return 200, {"payment": payments.to_api(row)}


MAX_PAYMENT_LIST = 100


async def list_untransferred_payments(deps: Deps, params: Mapping[str, str], body: None) -> Result:
    """The organization's succeeded payments with something left to transfer, newest first."""
    org_id = _path_id(params, "organization_id")
    rows = await payments.untransferred(deps.db, org_id, limit=MAX_PAYMENT_LIST) if org_id else []
    return 200, {"payments": [payments.to_api(r) for r in rows]}


AUTO_TRANSFER_FIELDS = {"organization_id": required(ID), "enabled": required(boolean())}


async def set_auto_transfer(deps: Deps, params: Mapping[str, str], body: dict[str, Any]) -> Result:
    row = await organizations.set_auto_transfer(
        deps.db, body["organization_id"], enabled=body["enabled"]
    )
    return _org_result(row)


# --- payouts --------------------------------------------------------------------------------

IDEMPOTENCY_KEY = string(min_len=1, max_len=255)
PAYOUT_RESERVE_FIELDS = {
    "organization_id": required(ID),
    "idempotency_key": required(IDEMPOTENCY_KEY),
    "request_hash": required(string(max_len=128)),
    "amount": required(AMOUNT),
    "currency": required(string(pattern=CURRENCY)),
    "stripe_account_id": required(string(pattern=ACCOUNT_ID)),
}


def payout_not_found() -> NotFound:
    return NotFound("Payout not found.", code="payout_not_found")


async def reserve_payout(deps: Deps, params: Mapping[str, str], body: dict[str, Any]) -> Result:
    created, row, org_exists = await payouts.reserve(deps.db, body, now_iso=iso_ms(deps.now()))
    if not org_exists or row is None:
        raise organization_not_found()
    if created:
        return 201, {"created": True, "payout": payouts.to_api(row)}
    if row["request_hash"] != body["request_hash"]:
        raise Conflict(
            "This idempotency key was used for a different request.",
            code="idempotency_key_reused",
        )
    return 200, {"created": False, "payout": payouts.to_api(row)}


async def get_payout(deps: Deps, params: Mapping[str, str], body: None) -> Result:
    """A replay's lookup: the payout reserved under (organization, idempotency key), if any."""
    org_id = _path_id(params, "organization_id")
    key = _path_id(params, "idempotency_key")
    row = None
    if org_id and key:
        row = await payouts.get(deps.db, organization_id=org_id, idempotency_key=key)
    if row is None:
        raise payout_not_found()
    return 200, {"payout": payouts.to_api(row)}


PAYOUT_REFUSE_FIELDS = {
    "organization_id": required(ID),
    "idempotency_key": required(IDEMPOTENCY_KEY),
    "failure_code": optional(nullable(string(max_len=128))),
    "failure_message": optional(nullable(free_text(max_len=500))),
}


async def refuse_payout(deps: Deps, params: Mapping[str, str], body: dict[str, Any]) -> Result:
    row = await payouts.refuse(
        deps.db,
        organization_id=body["organization_id"],
        idempotency_key=body["idempotency_key"],
        failure_code=body.get("failure_code"),
        failure_message=body.get("failure_message"),
        now_iso=iso_ms(deps.now()),
    )
    if row is None:
        raise payout_not_found()
    return 200, {"payout": payouts.to_api(row)}


PAYOUT_FIELDS = {
    "stripe_payout_id": required(ID),
    "organization_id": required(ID),
    "stripe_account_id": required(string(pattern=ACCOUNT_ID)),
    "amount": required(AMOUNT),
    "currency": required(string(pattern=CURRENCY)),
    "status": required(string(choices=PAYOUT_STATUSES)),
    "failure_code": optional(nullable(string(max_len=128))),
    "failure_message": optional(nullable(free_text(max_len=500))),
    "arrival_date": optional(nullable(integer(min_value=0, max_value=MAX_SAFE_INTEGER))),
    "event_created": required(integer(min_value=0, max_value=MAX_SAFE_INTEGER)),
    "idempotency_key": optional(nullable(IDEMPOTENCY_KEY)),
}


async def upsert_payout(deps: Deps, params: Mapping[str, str], body: dict[str, Any]) -> Result:
    updated, row = await payouts.upsert(deps.db, body, now_iso=iso_ms(deps.now()))
    if row is None:  # pragma: no cover - the upsert always leaves a row
        raise ApiError("The payout could not be stored.")
    if row["organization_id"] != body["organization_id"]:
        log.warning(
            "payout %s is recorded for organization %s; a write for %s was refused",
            body["stripe_payout_id"],
            row["organization_id"],
            body["organization_id"],
        )
        raise StripeIdConflict()
    return 200, {"updated": updated, "payout": payouts.to_api(row)}


# --- retention ------------------------------------------------------------------------------

PRUNE_FIELDS = {
    "webhook_event_retention_days": optional(
        integer(min_value=MIN_RETENTION_DAYS, max_value=MAX_RETENTION_DAYS)
    ),
    "ledger_retention_days": optional(
        integer(min_value=MIN_LEDGER_RETENTION_DAYS, max_value=MAX_RETENTION_DAYS)
    ),
}


async def prune_ledgers(deps: Deps, params: Mapping[str, str], body: dict[str, Any]) -> Result:
    deleted = await prune_expired(
        deps,
        webhook_event_days=body.get("webhook_event_retention_days"),
        ledger_days=body.get("ledger_retention_days"),
    )
    return 200, {"deleted": deleted}


async def prune_expired(
    deps: Deps, *, webhook_event_days: int | None = None, ledger_days: int | None = None
) -> dict[str, int]:
    """The retention rule for every ledger, shared by the prune route and the daily cron.

    Processed webhook events only need to outlive Stripe's 3 days of retries. Transfer and payout
    rows answer a client's retry with the first result, so they are kept far longer, and only
    once finished: a `pending`/`reserved` row is money whose outcome is not known yet.
    """
    now = deps.now()
    event_days = webhook_event_days or deps.config.webhook_event_retention_days
    row_days = ledger_days or deps.config.ledger_retention_days
    events_before = iso_ms(now - event_days * 86400)
    rows_before = iso_ms(now - row_days * 86400)
    return {
        "webhook_events": await webhook_events.prune(deps.db, received_before=events_before),
        "transfers": await transfers.prune(deps.db, updated_before=rows_before),
        "payouts": await payouts.prune(deps.db, updated_before=rows_before),
    }
