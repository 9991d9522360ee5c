"""`make demo`: the whole Connect story against a running stack, over HTTP only, step by step.

onboard → Account Link → (the fake) completes onboarding → webhook → status active → a customer
pays the organization (the platform's checkout creates the PaymentIntent with the platform key;
the fake completes it) → the payment is listed as earned → the owner's platform-fee transfer of
that payment (gross, fee, net; replayed with the same Idempotency-Key) → the connected account's
balance → a payout of it. The story is importable (`run_story`) so the stack test asserts every
step of exactly what a developer sees.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from backend.money.fees import ZERO_DECIMAL_CURRENCIES
from devstack.stack_config import REPO_ROOT, LocalSecrets, read_demo_state

__all__ = ["DemoError", "DemoTarget", "StoryResult", "TransferSummary", "main", "run_story"]

DEMO_AMOUNT = 10_000  # minor units: 100.00 USD
DEMO_CURRENCY = "usd"


class DemoError(RuntimeError):
    """A step of the story failed; the message says which and why."""


@dataclass(frozen=True, kw_only=True)
class DemoTarget:
    backend_url: str
    stripe_fake_url: str | None
    token: str
    organization_id: str
    # The platform's services' key (`X-Platform-Key`): the demo plays the platform's checkout.
    platform_key: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DemoTarget:
        """Environment first, then the file a running `make dev` writes (`.devstack/demo.json`)."""
        state_dir = Path(environ.get("DEVSTACK_DIR") or REPO_ROOT / ".devstack")
        state_file = state_dir / "demo.json"
        state = read_demo_state(state_file) if state_file.exists() else None
        token = environ.get("DEMO_TOKEN") or (state.token if state else None)
        org = environ.get("DEMO_ORG_ID") or (state.organization_id if state else None)
        if not token or not org:
            raise DemoError(
                f"no running stack found ({state_file} is missing): start `make dev` first, "
                "or set DEMO_TOKEN and DEMO_ORG_ID"
            )
        backend = environ.get("BACKEND_URL") or (
            state.backend_url if state else f"http://127.0.0.1:{environ.get('BACKEND_PORT', 8000)}"
        )
        # Set but empty means real Stripe: onboarding is then finished by hand in the browser.
        fake = environ.get("STRIPE_FAKE_URL")
        if fake is None:
            fake = (
                state.stripe_fake_url
                if state
                else f"http://127.0.0.1:{environ.get('STRIPE_FAKE_PORT', 12111)}"
            )
        platform_key = environ.get("PLATFORM_API_KEY")
        secrets_file = state_dir / "secrets.json"
        if not platform_key and secrets_file.exists():
            platform_key = LocalSecrets.load_or_create(secrets_file).platform_api_key
        return cls(
            backend_url=backend.rstrip("/"),
            stripe_fake_url=fake.rstrip("/") if fake else None,
            token=token,
            organization_id=org,
            platform_key=platform_key or None,
        )


@dataclass(frozen=True, kw_only=True)
class TransferSummary:
    idempotency_key: str
    gross_amount: int
    fee_amount: int
    net_amount: int
    currency: str
    status: str
    stripe_transfer_id: str | None


@dataclass(frozen=True, kw_only=True)
class StoryResult:
    account_id: str
    account_link_url: str
    account_link_expires_at: int
    status_after_onboard: str | None
    webhooks_delivered: int
    status_after_webhook: str
    onboarding_step: str | None
    payment_intent_id: str
    transfer: TransferSummary
    transfer_replay: TransferSummary
    balance_available: dict[str, int]
    balance_pending: dict[str, int]
    payout_id: str
    payout_amount: int


async def run_story(
    target: DemoTarget,
    *,
    emit: Callable[[str], None] = print,
    amount: int = DEMO_AMOUNT,
    currency: str = DEMO_CURRENCY,
    webhook_timeout: float = 30.0,
) -> StoryResult:
    """Walk the story once; raises `DemoError` naming the step that failed."""
    auth = {"Authorization": f"Bearer {target.token}"}
    org = target.organization_id
    async with httpx.AsyncClient(base_url=target.backend_url, headers=auth, timeout=30.0) as api:
        emit(f"1. onboard organization {org}")
        link = await _call(
            api, "POST", "/api/connect/onboard", step="onboard", json={"organization_id": org}
        )
        account_id = str(link["account_id"])
        emit(f"   connected account {account_id}")
        emit(f"2. Account Link (the user would open this): {link['url']}")
        before = await _call(api, "GET", f"/api/connect/status/{org}", step="status")
        emit(f"   status now: {before['stripe_connect_status']} / {before['onboarding_step']}")

        deliveries_before = 0
        if target.stripe_fake_url is None:
            emit("3. real Stripe: open the link above and finish onboarding; waiting for it …")
            webhook_timeout = max(webhook_timeout, 600.0)
        else:
            async with httpx.AsyncClient(base_url=target.stripe_fake_url, timeout=10.0) as fake:
                deliveries_before = await _delivered(fake, account_id)
                await _call(
                    fake,
                    "POST",
                    f"/_fake/accounts/{account_id}/complete-onboarding",
                    step="complete onboarding (fake)",
                )
            emit("3. the Stripe fake completed onboarding (account.updated is on its way)")

        emit("4. waiting for the webhook to reach the backend and D1 …")
        status = await _wait_active(api, org, wait_seconds=webhook_timeout)
        delivered = 0
        if target.stripe_fake_url is not None:
            async with httpx.AsyncClient(base_url=target.stripe_fake_url, timeout=10.0) as fake:
                delivered = await _delivered(fake, account_id) - deliveries_before
            emit(f"   {delivered} signed webhook deliveries for {account_id} answered 2xx")
        emit(
            f"5. status: {status['stripe_connect_status']} / {status['onboarding_step']} "
            f"(charges {status['charges_enabled']}, payouts {status['payouts_enabled']})"
        )

        if not target.platform_key:
            raise DemoError(
                "payment: no platform key (PLATFORM_API_KEY, or secrets.json of `make dev`)"
            )
        emit(f"6. a customer pays the organization {_money(amount, currency)}")
        # The platform's own server, not the user's browser: the platform key, no session.
        async with httpx.AsyncClient(base_url=target.backend_url, timeout=30.0) as platform:
            intent = await _call(
                platform,
                "POST",
                "/api/platform/payment-intents",
                step="payment (platform checkout)",
                json={"organization_id": org, "amount": amount, "currency": currency},
                headers={
                    "X-Platform-Key": target.platform_key,
                    "Idempotency-Key": f"demo-sale-{uuid.uuid4()}",
                },
            )
        intent_id = str(intent["payment_intent_id"])
        emit(f"   the platform's checkout created {intent_id} (tagged for {org})")
        if target.stripe_fake_url is None:
            emit("   real Stripe: pay it with a test card in your checkout; waiting for it …")
            webhook_timeout = max(webhook_timeout, 600.0)
        else:
            async with httpx.AsyncClient(base_url=target.stripe_fake_url, timeout=10.0) as fake:
                await _call(
                    fake,
                    "POST",
                    f"/_fake/payment_intents/{intent_id}/succeed",
                    step="card payment (fake)",
                )
            emit("   the Stripe fake charged the card (payment_intent.succeeded is on its way)")
        earned = await _wait_earned(api, org, intent_id, wait_seconds=webhook_timeout)
        emit(
            f"   earned, not yet transferred: {_money(earned['amount_remaining'], currency)}"
            f" of {earned['charge_id']}"
        )

        key = f"demo-{uuid.uuid4()}"
        emit(
            f"7. the owner claims it: platform-fee transfer of that payment, Idempotency-Key {key}"
        )
        body = {"organization_id": org, "source_transaction": intent_id}
        first = _transfer(
            await _call(
                api,
                "POST",
                "/api/connect/transfer",
                step="transfer",
                json=body,
                headers={"Idempotency-Key": key},
            ),
            key,
        )
        emit(
            f"   gross {_money(first.gross_amount, first.currency)}"
            f" = fee {_money(first.fee_amount, first.currency)} (kept by the platform)"
            f" + net {_money(first.net_amount, first.currency)}"
            f" → {first.stripe_transfer_id} ({first.status})"
        )
        replay = _transfer(
            await _call(
                api,
                "POST",
                "/api/connect/transfer",
                step="transfer replay",
                json=body,
                headers={"Idempotency-Key": key},
            ),
            key,
        )
        same = replay.stripe_transfer_id == first.stripe_transfer_id
        emit(
            f"   replayed with the same key: {'same transfer' if same else 'A DIFFERENT TRANSFER'}"
        )
        if not same:
            raise DemoError("transfer replay: the same Idempotency-Key made a second transfer")

        balance = await _call(api, "GET", f"/api/connect/balance/{org}", step="balance")
        available = _amounts(balance["available"])
        pending = _amounts(balance["pending"])
        emit(
            f"8. balance of {account_id}: available "
            f"{', '.join(_money(v, c) for c, v in available.items()) or 'nothing'}; pending "
            f"{', '.join(_money(v, c) for c, v in pending.items()) or 'nothing'}"
        )
        paid_out = await _call(
            api,
            "POST",
            "/api/connect/payout",
            step="payout",
            json={"organization_id": org, "currency": currency},
            headers={"Idempotency-Key": f"demo-payout-{uuid.uuid4()}"},
        )
        emit(
            f"9. payout of the available balance: {_money(int(paid_out['amount']), currency)}"
            f" → {paid_out['payout_id']} ({paid_out['status']})"
        )

    return StoryResult(
        account_id=account_id,
        account_link_url=str(link["url"]),
        account_link_expires_at=int(link["expires_at"]),
        status_after_onboard=before["stripe_connect_status"],
        webhooks_delivered=delivered,
        status_after_webhook=str(status["stripe_connect_status"]),
        onboarding_step=status["onboarding_step"],
        payment_intent_id=intent_id,
        transfer=first,
        transfer_replay=replay,
        balance_available=available,
        balance_pending=pending,
        payout_id=str(paid_out["payout_id"]),
        payout_amount=int(paid_out["amount"]),
    )


async def _call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    step: str,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    try:
        response = await client.request(method, path, json=json, headers=headers)
    except httpx.HTTPError as exc:
        raise DemoError(f"{step}: {method} {path} failed: {type(exc).__name__}") from None
    if not response.is_success:
        raise DemoError(f"{step}: {method} {path} → {response.status_code} {response.text[:300]}")
    return response.json()


async def _wait_active(api: httpx.AsyncClient, org: str, *, wait_seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + wait_seconds
    while True:
        status: dict[str, Any] = await _call(
            api, "GET", f"/api/connect/status/{org}", step="status"
        )
        if status["stripe_connect_status"] == "active":
            return status
        if time.monotonic() > deadline:
            raise DemoError(
                f"webhook: status still {status['stripe_connect_status']!r}"
                f" after {wait_seconds:.0f} s"
            )
        await asyncio.sleep(0.2)


async def _wait_earned(
    api: httpx.AsyncClient, org: str, intent_id: str, *, wait_seconds: float
) -> dict[str, Any]:
    """The payment, once its webhook has recorded it as earned by the organization."""
    deadline = time.monotonic() + wait_seconds
    while True:
        listed = await _call(api, "GET", f"/api/connect/payments/{org}", step="earned payments")
        for payment in listed["payments"]:
            if payment["payment_intent_id"] == intent_id:
                return dict(payment)
        if time.monotonic() > deadline:
            raise DemoError(f"payment: {intent_id} not earned after {wait_seconds:.0f} s")
        await asyncio.sleep(0.2)


async def _delivered(fake: httpx.AsyncClient, account_id: str) -> int:
    """Deliveries the fake made for this account's events that the backend answered 2xx."""
    data = await _call(fake, "GET", "/_fake/webhooks/deliveries", step="webhook deliveries")
    return sum(1 for row in data["deliveries"] if row["account"] == account_id and row["ok"])


def _transfer(data: Mapping[str, Any], key: str) -> TransferSummary:
    return TransferSummary(
        idempotency_key=key,
        gross_amount=int(data["gross_amount"]),
        fee_amount=int(data["fee_amount"]),
        net_amount=int(data["net_amount"]),
        currency=str(data["currency"]),
        status=str(data["status"]),
        stripe_transfer_id=data.get("stripe_transfer_id"),
    )


def _amounts(entries: list[Mapping[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for entry in entries:
        totals[str(entry["currency"])] = totals.get(str(entry["currency"]), 0) + int(
            entry["amount"]
        )
    return totals


def _money(amount: int, currency: str) -> str:
    if currency.lower() in ZERO_DECIMAL_CURRENCIES:
        return f"{amount} {currency.upper()}"
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole}.{cents:02d} {currency.upper()}"


def main(environ: Mapping[str, str] | None = None) -> int:
    try:
        target = DemoTarget.from_env(os.environ if environ is None else environ)
        asyncio.run(run_story(target))
    except DemoError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    print("demo complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
