"""The `/v1/` surface: authentication, routing, parameter checks, `Stripe-Account`, idempotency."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from stripe.params import (
    AccountCreateParams,
    AccountLinkCreateParams,
    AccountListParams,
    AccountLoginLinkCreateParams,
    AccountRetrieveParams,
    AccountSessionCreateParams,
    AccountUpdateParams,
    BalanceRetrieveParams,
    ChargeRetrieveParams,
    DisputeCloseParams,
    DisputeListParams,
    DisputeRetrieveParams,
    DisputeUpdateParams,
    EventListParams,
    EventRetrieveParams,
    PaymentIntentConfirmParams,
    PaymentIntentCreateParams,
    PaymentIntentListParams,
    PaymentIntentRetrieveParams,
    PayoutCreateParams,
    PayoutListParams,
    PayoutRetrieveParams,
    RefundCreateParams,
    RefundListParams,
    RefundRetrieveParams,
    TransferCreateParams,
    TransferListParams,
    TransferRetrieveParams,
    TransferReversalCreateParams,
    TransferReversalListParams,
    TransferUpdateParams,
)

from stripe_fake import account_sessions
from stripe_fake import api_accounts as acc
from stripe_fake import api_disputes as disputes
from stripe_fake import api_money as money
from stripe_fake import api_payments as payments
from stripe_fake import api_payouts as payouts
from stripe_fake import api_refunds as refunds
from stripe_fake import api_transfers as transfers
from stripe_fake.core import Ctx, Fake
from stripe_fake.errors import StripeFakeError, account_invalid, invalid_request, redact_key
from stripe_fake.events import API_VERSION
from stripe_fake.forms import parse_form
from stripe_fake.ids import new_id
from stripe_fake.schema import Node, node_for, validate
from stripe_fake.store import JSON

Handler = Callable[[Ctx], JSON]


@dataclass(frozen=True)
class Endpoint:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    params: Node


def _endpoint(method: str, path: str, handler: Handler, params: type) -> Endpoint:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return Endpoint(method, re.compile(f"^{regex}$"), handler, node_for(params))


ENDPOINTS: tuple[Endpoint, ...] = (
    _endpoint("POST", "/v1/accounts", acc.create_account, AccountCreateParams),
    _endpoint("GET", "/v1/accounts", acc.list_accounts, AccountListParams),
    _endpoint("GET", "/v1/accounts/{account}", acc.retrieve_account, AccountRetrieveParams),
    _endpoint("POST", "/v1/accounts/{account}", acc.update_account, AccountUpdateParams),
    _endpoint(
        "POST",
        "/v1/accounts/{account}/login_links",
        acc.create_login_link,
        AccountLoginLinkCreateParams,
    ),
    _endpoint("POST", "/v1/account_links", acc.create_account_link, AccountLinkCreateParams),
    _endpoint(
        "POST",
        "/v1/account_sessions",
        account_sessions.create_account_session,
        AccountSessionCreateParams,
    ),
    _endpoint("GET", "/v1/events", acc.list_events, EventListParams),
    _endpoint("GET", "/v1/events/{event}", acc.retrieve_event, EventRetrieveParams),
    _endpoint("GET", "/v1/balance", money.retrieve_balance, BalanceRetrieveParams),
    _endpoint("POST", "/v1/transfers", transfers.create_transfer, TransferCreateParams),
    _endpoint("GET", "/v1/transfers", transfers.list_transfers, TransferListParams),
    _endpoint(
        "GET", "/v1/transfers/{transfer}", transfers.retrieve_transfer, TransferRetrieveParams
    ),
    _endpoint("POST", "/v1/transfers/{transfer}", transfers.update_transfer, TransferUpdateParams),
    _endpoint(
        "POST",
        "/v1/transfers/{transfer}/reversals",
        transfers.create_reversal,
        TransferReversalCreateParams,
    ),
    _endpoint(
        "GET",
        "/v1/transfers/{transfer}/reversals",
        transfers.list_reversals,
        TransferReversalListParams,
    ),
    _endpoint("POST", "/v1/payouts", payouts.create_payout, PayoutCreateParams),
    _endpoint("GET", "/v1/payouts", payouts.list_payouts, PayoutListParams),
    _endpoint("GET", "/v1/payouts/{payout}", payouts.retrieve_payout, PayoutRetrieveParams),
    _endpoint(
        "POST", "/v1/payment_intents", payments.create_payment_intent, PaymentIntentCreateParams
    ),
    _endpoint("GET", "/v1/payment_intents", payments.list_payment_intents, PaymentIntentListParams),
    _endpoint(
        "GET",
        "/v1/payment_intents/{intent}",
        payments.retrieve_payment_intent,
        PaymentIntentRetrieveParams,
    ),
    _endpoint(
        "POST",
        "/v1/payment_intents/{intent}/confirm",
        payments.confirm_payment_intent,
        PaymentIntentConfirmParams,
    ),
    _endpoint("GET", "/v1/charges/{charge}", payments.retrieve_charge, ChargeRetrieveParams),
    _endpoint("POST", "/v1/refunds", refunds.create_refund, RefundCreateParams),
    _endpoint("GET", "/v1/refunds", refunds.list_refunds, RefundListParams),
    _endpoint("GET", "/v1/refunds/{refund}", refunds.retrieve_refund, RefundRetrieveParams),
    _endpoint("GET", "/v1/disputes", disputes.list_disputes, DisputeListParams),
    _endpoint("GET", "/v1/disputes/{dispute}", disputes.retrieve_dispute, DisputeRetrieveParams),
    _endpoint("POST", "/v1/disputes/{dispute}", disputes.update_dispute, DisputeUpdateParams),
    _endpoint("POST", "/v1/disputes/{dispute}/close", disputes.close_dispute, DisputeCloseParams),
)

EXTRA_REQUIRED: dict[Handler, tuple[str, ...]] = {transfers.create_transfer: ("amount",)}

NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
IDEMPOTENCY_MESSAGE = (
    "Keys for idempotent requests can only be used with the same parameters they were first "
    "used with. Try using a key other than '{key}' if you meant to execute a different request."
)


def _json(body: Any, status: int, headers: dict[str, str]) -> Response:
    return Response(
        json.dumps(body, indent=2), status_code=status, headers=headers,
        media_type="application/json",
    )  # fmt: skip


def _api_key(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            return base64.b64decode(value.strip()).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


def _match(method: str, path: str) -> tuple[Endpoint, dict[str, str]] | None:
    for endpoint in ENDPOINTS:
        if endpoint.method != method:
            continue
        found = endpoint.pattern.match(path)
        if found:
            return endpoint, found.groupdict()
    return None


async def handle(fake: Fake, request: Request) -> Response:
    """One `/v1/` request, answered exactly as Stripe would shape it."""
    request_id = new_id("req_", 14)
    headers = {
        "Request-Id": request_id,
        "Stripe-Version": request.headers.get("stripe-version", API_VERSION),
    }
    try:
        return await _handle(fake, request, request_id, headers)
    except StripeFakeError as error:
        return _json(error.body(request_id), error.status, headers)


async def _handle(
    fake: Fake, request: Request, request_id: str, headers: dict[str, str]
) -> Response:
    key = _api_key(request)
    if not key:
        raise StripeFakeError(401, type="invalid_request_error", message=NO_KEY_MESSAGE)
    if key not in fake.config.api_keys:
        raise StripeFakeError(
            401,
            type="invalid_request_error",
            message=f"Invalid API Key provided: {redact_key(key)}",
        )
    method = request.method.upper()
    path = request.url.path.rstrip("/") or "/"
    matched = _match(method, path)
    if matched is None:
        raise invalid_request(
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
            status=404,
        )
    endpoint, path_params = matched
    raw = request.url.query
    if method == "POST":
        form = (await request.body()).decode("utf-8", errors="replace")
        raw = "&".join(part for part in (raw, form) if part)
    params = parse_form(raw)
    validate(params, endpoint.params)
    for required in EXTRA_REQUIRED.get(endpoint.handler, ()):
        if required not in params:
            raise invalid_request(
                f"Missing required param: {required}.", param=required, code="parameter_missing"
            )
    stripe_account = request.headers.get("stripe-account") or None
    idem_key = request.headers.get("idempotency-key") if method == "POST" else None
    if idem_key:
        headers["Idempotency-Key"] = idem_key
    async with fake.lock:
        state = fake.state
        if stripe_account is not None and (
            stripe_account not in state.accounts or state.is_deauthorized(stripe_account)
        ):
            raise account_invalid(key, stripe_account)
        record_key = ""
        fingerprint = hashlib.sha256(f"{method} {path}\n{sorted_form(raw)}".encode()).hexdigest()
        if idem_key:
            record_key = json.dumps([key, stripe_account, idem_key])
            stored = state.idempotency.get(record_key)
            if stored is not None:
                if stored["fingerprint"] != fingerprint:
                    raise StripeFakeError(
                        400,
                        type="idempotency_error",
                        message=IDEMPOTENCY_MESSAGE.format(key=idem_key),
                    )
                return _json(
                    stored["body"],
                    stored["status"],
                    {**headers, "Idempotent-Replayed": "true",
                     "Original-Request": stored["request_id"]},
                )  # fmt: skip
        ctx = Ctx(
            fake=fake,
            api_key=key,
            stripe_account=stripe_account,
            params=params,
            path=path_params,
            base_url=str(request.base_url).rstrip("/"),
        )
        fake.events.request = {"id": request_id, "idempotency_key": idem_key}
        status = 200
        try:
            body: JSON = endpoint.handler(ctx)
        except StripeFakeError as error:
            if not error.store_idempotent:
                raise
            status, body = error.status, error.body(request_id)
        finally:
            fake.events.request = {"id": None, "idempotency_key": None}
            if method == "POST":
                fake.store.save()
        if record_key:
            state.idempotency[record_key] = {
                "fingerprint": fingerprint,
                "status": status,
                "body": body,
                "request_id": request_id,
            }
            fake.store.save()
        return _json(body, status, headers)


def sorted_form(raw: str) -> str:
    """Parameters in a canonical order, so the same request hashes the same however it is sent."""
    return "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(raw, keep_blank_values=True)))
