"""Stripe behind one service of ours: typed arguments in, our pydantic models out.

Routes never build Stripe parameters. Every write carries an idempotency key. The account profiles
(Express, Custom) live in `backend/stripe_side/account_profiles.py` alone: "Custom later" is a
setting. `stripe_errors.map_stripe_error` is the single translation from Stripe's errors to ours.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import stripe
from pydantic import BaseModel
from stripe._base_address import BaseAddresses
from stripe.params import (
    AccountCreateParams,
    AccountLinkCreateParams,
    AccountSessionCreateParams,
    AccountSessionCreateParamsComponents,
    AccountUpdateParams,
    PaymentIntentCreateParams,
    PayoutCreateParams,
    TransferCreateParams,
)
from stripe.params._account_update_params import AccountUpdateParamsSettingsPayoutsSchedule

from backend.core import telemetry
from backend.core.errors import UpstreamError
from backend.core.models import CollectionFields, Money
from backend.core.records import AccountProfile, PayoutInterval, Weekday
from backend.money.payout_amount import Funds
from backend.stripe_side.account_profiles import ACCOUNT_PROFILES
from backend.stripe_side.stripe_errors import map_stripe_error
from backend.stripe_side.stripe_listing import ListingCalls
from backend.stripe_side.stripe_models import (
    AccountLink,
    StripeAccount,
    StripeAccountSession,
    StripePayment,
    StripePaymentIntent,
    StripePayout,
    StripeTransfer,
)
from backend.stripe_side.stripe_returns import ReversalCalls
from backend.stripe_side.stripe_telemetry import ObservedHttpClient, stripe_call

logger = logging.getLogger("backend.stripe")

MAX_IDEMPOTENCY_KEY_LENGTH = 255
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def idempotency_key(*parts: str) -> str:
    """`a:b:c`, or a hash of it when it would exceed Stripe's 255-character limit."""
    key = ":".join(parts)
    if len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        return key
    return f"{parts[0]}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def _funds(entries: Any) -> list[Funds]:
    return [
        Funds(
            amount=int(entry["amount"]),
            currency=str(entry["currency"]),
            source_types={
                str(k): int(v)
                for k, v in (entry.get("source_types") or {}).items()
                if isinstance(v, int)
            },
        )
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict)
    ]


def _account(obj: stripe.Account) -> StripeAccount:
    raw: dict[str, Any] = obj.to_dict(recursive=True)
    return StripeAccount(
        id=obj.id,
        details_submitted=bool(raw.get("details_submitted")),
        charges_enabled=bool(raw.get("charges_enabled")),
        payouts_enabled=bool(raw.get("payouts_enabled")),
        metadata={str(k): str(v) for k, v in (raw.get("metadata") or {}).items()},
        raw=raw,
    )


class ConnectStripe(ListingCalls, ReversalCalls):
    """One configured `StripeClient` (async, aiohttp) and the Connect operations we use."""

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        timeout_seconds: float = 20.0,
        max_network_retries: int = 2,
        collect: CollectionFields = "eventually_due",
    ) -> None:
        self._collect: CollectionFields = collect  # what Account Links ask for
        self._http = ObservedHttpClient(timeout=timeout_seconds)
        base_addresses: BaseAddresses = {}
        if api_base:
            base_addresses = {"api": api_base, "connect": api_base, "files": api_base}
        self._client = stripe.StripeClient(
            api_key,
            base_addresses=base_addresses,
            http_client=self._http,
            max_network_retries=max_network_retries,
        )

    async def _guard(self, operation: str, call: Awaitable[T]) -> T:
        """Stripe's own errors, and transport failures the SDK lets through (a body cut short
        surfaces as a raw aiohttp error), all become our errors. With telemetry on, the call is
        a span and a `connect.stripe.call.duration` by operation and outcome."""
        tel = telemetry.current()
        if isinstance(tel, telemetry.Telemetry):
            return await stripe_call(tel, operation, self._mapped(operation, call))
        return await self._mapped(operation, call)

    async def _mapped(self, operation: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except stripe.StripeError as exc:
            raise map_stripe_error(exc, operation=operation) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("stripe %s: transport failure (%s)", operation, type(exc).__name__)
            raise UpstreamError(
                code="stripe_unavailable", message="Payment provider unreachable."
            ) from None

    async def _read(
        self, operation: str, call: Awaitable[stripe.StripeObject], model: type[M]
    ) -> M:
        """What Stripe answered, as our model of it."""
        return model.model_validate((await self._guard(operation, call)).to_dict())

    async def close(self) -> None:
        close: Callable[[], Awaitable[None]] = self._http.close_async
        await close()

    async def create_account(
        self, organization_id: str, *, profile: AccountProfile, email: str | None = None
    ) -> StripeAccount:
        params: AccountCreateParams = {
            **ACCOUNT_PROFILES[profile],
            "metadata": {"organization_id": organization_id},
        }
        if email:
            params["email"] = email
        account = await self._guard(
            "create account",
            self._client.v1.accounts.create_async(
                params, {"idempotency_key": idempotency_key("connect-account", organization_id)}
            ),
        )
        return _account(account)

    async def retrieve_account(self, account_id: str) -> StripeAccount:
        account = await self._guard(
            "retrieve account", self._client.v1.accounts.retrieve_async(account_id)
        )
        return _account(account)

    async def update_payout_schedule(
        self,
        account_id: str,
        *,
        interval: PayoutInterval,
        weekly_anchor: Weekday | None,
        monthly_anchor: int | None,
        delay_days: int | None,
        request_key: str,
    ) -> StripeAccount:
        """Set `settings.payouts.schedule`; the caller checked which anchor fits the interval."""
        schedule: AccountUpdateParamsSettingsPayoutsSchedule = {"interval": interval}
        if weekly_anchor is not None:
            schedule["weekly_anchor"] = weekly_anchor
        if monthly_anchor is not None:
            schedule["monthly_anchor"] = monthly_anchor
        if delay_days is not None:
            schedule["delay_days"] = delay_days
        params: AccountUpdateParams = {"settings": {"payouts": {"schedule": schedule}}}
        account = await self._guard(
            "update payout schedule",
            self._client.v1.accounts.update_async(
                account_id,
                params,
                {"idempotency_key": idempotency_key("payout-schedule", request_key)},
            ),
        )
        return _account(account)

    async def create_account_link(
        self, account_id: str, *, refresh_url: str, return_url: str, request_key: str
    ) -> AccountLink:
        params: AccountLinkCreateParams = {
            "account": account_id,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "type": "account_onboarding",
            "collection_options": {"fields": self._collect},
        }
        link = await self._guard(
            "create account link",
            self._client.v1.account_links.create_async(
                params, {"idempotency_key": idempotency_key("account-link", request_key)}
            ),
        )
        return AccountLink(url=link.url, expires_at=link.expires_at)

    async def create_account_session(
        self, account_id: str, *, components: AccountSessionCreateParamsComponents
    ) -> StripeAccountSession:
        """A fresh session (and key, kept across the SDK's retries) for each call."""
        params: AccountSessionCreateParams = {"account": account_id, "components": components}
        key = idempotency_key("account-session", uuid.uuid4().hex)
        session = self._client.v1.account_sessions.create_async(params, {"idempotency_key": key})
        return await self._read("create account session", session, StripeAccountSession)

    async def create_login_link(self, account_id: str, *, request_key: str) -> str:
        link = await self._guard(
            "create login link",
            self._client.v1.accounts.login_links.create_async(
                account_id,
                options={"idempotency_key": idempotency_key("login-link", request_key)},
            ),
        )
        return link.url

    async def create_transfer(
        self,
        *,
        destination: str,
        amount: int,
        currency: str,
        key: str,
        transfer_group: str | None,
        description: str | None,
        metadata: dict[str, str],
        source_transaction: str | None = None,
    ) -> StripeTransfer:
        params: TransferCreateParams = {
            "amount": amount,
            "currency": currency,
            "destination": destination,
            "metadata": metadata,
        }
        if source_transaction:
            # Stripe ties the transfer to the charge: it refuses more than the charge holds, and
            # the funds become available to the destination when the charge's do.
            params["source_transaction"] = source_transaction
        if transfer_group:
            params["transfer_group"] = transfer_group
        if description:
            params["description"] = description
        transfer = self._client.v1.transfers.create_async(params, {"idempotency_key": key})
        return await self._read("create transfer", transfer, StripeTransfer)

    async def retrieve_balance(self, account_id: str) -> tuple[list[Money], list[Money]]:
        available, pending = await self.retrieve_funds(account_id)
        return (
            [Money(amount=f.amount, currency=f.currency) for f in available],
            [Money(amount=f.amount, currency=f.currency) for f in pending],
        )

    async def retrieve_funds(self, account_id: str) -> tuple[list[Funds], list[Funds]]:
        """The balance per currency with its source types (what a payout may take)."""
        balance = await self._guard(
            "retrieve balance",
            self._client.v1.balance.retrieve_async(options={"stripe_account": account_id}),
        )
        raw: dict[str, Any] = balance.to_dict(recursive=True)
        return _funds(raw.get("available")), _funds(raw.get("pending"))

    async def create_payout(
        self, account_id: str, *, amount: int, currency: str, key: str, metadata: dict[str, str]
    ) -> StripePayout:
        params: PayoutCreateParams = {"amount": amount, "currency": currency, "metadata": metadata}
        options: stripe.RequestOptions = {"stripe_account": account_id, "idempotency_key": key}
        payout = self._client.v1.payouts.create_async(params, options)
        return await self._read("create payout", payout, StripePayout)

    async def create_payment_intent(
        self,
        *,
        organization_id: str,
        amount: int,
        currency: str,
        transfer_group: str,
        description: str | None,
        key: str,
    ) -> StripePaymentIntent:
        """A payment collected by the platform for an organization's sale, tagged the way
        transfers expect (`metadata.organization_id`, the transfer group)."""
        params: PaymentIntentCreateParams = {
            "amount": amount,
            "currency": currency,
            "metadata": {"organization_id": organization_id},
            "transfer_group": transfer_group,
        }
        if description:
            params["description"] = description
        intent = self._client.v1.payment_intents.create_async(params, {"idempotency_key": key})
        return await self._read("create payment intent", intent, StripePaymentIntent)

    async def retrieve_payment(self, source_id: str) -> StripePayment | None:
        """The payment behind a charge (`ch_…`) or PaymentIntent (`pi_…`), or None when Stripe
        has no such object. The organization comes from the PaymentIntent's metadata, which only
        the platform sets; the money from the charge."""
        found = await self._guard("retrieve payment", self._charge_and_intent(source_id))
        charge, intent = found or (None, None)
        if intent is None:
            return None  # a charge made without a PaymentIntent is not one of our payments
        metadata = intent.metadata.to_dict() if intent.metadata else {}
        org = metadata.get("organization_id")
        succeeded = (
            charge is not None and charge.status == "succeeded" and intent.status == "succeeded"
        )
        return StripePayment(
            payment_intent_id=intent.id,
            charge_id=charge.id if charge is not None else None,
            organization_id=org if isinstance(org, str) and org else None,
            amount=charge.amount if charge is not None else intent.amount,
            amount_refunded=charge.amount_refunded if charge is not None else 0,
            currency=intent.currency,
            status="succeeded"
            if succeeded
            else (charge.status if charge is not None else intent.status),
            created=charge.created if charge is not None else intent.created,
        )

    async def _charge_and_intent(
        self, source_id: str
    ) -> tuple[stripe.Charge | None, stripe.PaymentIntent | None] | None:
        """Either object leads to the other; None when Stripe has no `source_id`."""
        charges, intents = self._client.v1.charges, self._client.v1.payment_intents
        try:
            if source_id.startswith("ch_"):
                charge = await charges.retrieve_async(source_id)
                intent_id = charge.payment_intent
                if not isinstance(intent_id, str):
                    return charge, None
                return charge, await intents.retrieve_async(intent_id)
            intent = await intents.retrieve_async(source_id)
            latest = intent.latest_charge
            if not isinstance(latest, str):
                return None, intent
            return await charges.retrieve_async(latest), intent
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                return None
            raise
