"""Run the fake in-process (a uvicorn server on a background thread) and drive its control API.

Used by the pytest fixture and by the local stack; the calls mirror the `/_fake/` routes.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Generic, TypeVar

import httpx

from devstack.serving import RunningServer, serve_in_thread
from stripe_fake.app import build_app
from stripe_fake.config import FakeConfig

T = TypeVar("T")
Call = tuple[str, str, dict[str, Any] | None]


class _Calls(Generic[T]):
    """The control API as calls; `_send` is sync (returns dict) or async (returns awaitable)."""

    def _send(self, call: Call) -> T:
        raise NotImplementedError

    def submit_details(self, account_id: str) -> T:
        return self._send(("POST", f"/_fake/accounts/{account_id}/submit-details", None))

    def complete_onboarding(self, account_id: str) -> T:
        return self._send(("POST", f"/_fake/accounts/{account_id}/complete-onboarding", None))

    def restrict(self, account_id: str) -> T:
        return self._send(("POST", f"/_fake/accounts/{account_id}/restrict", None))

    def request_info(self, account_id: str, fields: list[str], deadline: int) -> T:
        body = {"fields": fields, "deadline": deadline}
        return self._send(("POST", f"/_fake/accounts/{account_id}/request-info", body))

    def reject(self, account_id: str, reason: str = "fraud") -> T:
        return self._send(("POST", f"/_fake/accounts/{account_id}/reject", {"reason": reason}))

    def deauthorize(self, account_id: str) -> T:
        return self._send(("POST", f"/_fake/accounts/{account_id}/deauthorize", None))

    def fund(
        self, account_id: str | None, amount: int, currency: str = "usd", *, pending: bool = False
    ) -> T:
        body = {"account": account_id, "amount": amount, "currency": currency, "pending": pending}
        return self._send(("POST", "/_fake/balance/fund", body))

    def settle_balance(self, account_id: str | None = None) -> T:
        return self._send(("POST", "/_fake/balance/settle", {"account": account_id}))

    def succeed_payment_intent(self, intent_id: str) -> T:
        """The customer paid (card succeeded, funds available at once)."""
        return self._send(("POST", f"/_fake/payment_intents/{intent_id}/succeed", None))

    def open_dispute(
        self, charge_id: str, *, amount: int | None = None, reason: str = "fraudulent"
    ) -> T:
        """The cardholder's bank disputes the charge (amount + dispute fee withdrawn)."""
        body: dict[str, Any] = {"reason": reason}
        if amount is not None:
            body["amount"] = amount
        return self._send(("POST", f"/_fake/charges/{charge_id}/dispute", body))

    def close_dispute(self, dispute_id: str, status: str) -> T:
        """The bank decides: `won` (amount reinstated, not the fee) or `lost`."""
        return self._send(("POST", f"/_fake/disputes/{dispute_id}/close", {"status": status}))

    def pending_refunds(self, charge_id: str, pending: bool = True) -> T:
        """Refunds of this charge start `pending` (then succeed_refund / fail / cancel)."""
        body = {"pending": pending}
        return self._send(("POST", f"/_fake/charges/{charge_id}/pending-refunds", body))

    def succeed_refund(self, refund_id: str) -> T:
        return self._send(("POST", f"/_fake/refunds/{refund_id}/succeed", None))

    def fail_refund(self, refund_id: str, failure_reason: str = "expired_or_canceled_card") -> T:
        """The refund fails at the card network: its money returns to the balance."""
        body = {"failure_reason": failure_reason}
        return self._send(("POST", f"/_fake/refunds/{refund_id}/fail", body))

    def cancel_refund(self, refund_id: str) -> T:
        return self._send(("POST", f"/_fake/refunds/{refund_id}/cancel", None))

    def pay_payout(self, payout_id: str) -> T:
        return self._send(("POST", f"/_fake/payouts/{payout_id}/pay", None))

    def fail_payout(self, payout_id: str, failure_code: str = "account_closed") -> T:
        body = {"failure_code": failure_code}
        return self._send(("POST", f"/_fake/payouts/{payout_id}/fail", body))

    def set_payout_schedule(self, account_id: str, **schedule: Any) -> T:
        """As if the account holder changed it in the Express Dashboard (`account.updated`)."""
        path = f"/_fake/accounts/{account_id}/payout-schedule"
        return self._send(("POST", path, schedule))

    def run_payout_scheduler(
        self, account_id: str | None = None, *, force: bool = False, pay: bool = True
    ) -> T:
        """Stripe's automatic payouts, once: `{"payouts": [...], "skipped": {acct: reason}}`."""
        body = {"account": account_id, "force": force, "pay": pay}
        return self._send(("POST", "/_fake/payouts/run-scheduler", body))

    def pause_webhooks(self) -> T:
        """Events keep being created but are not delivered (they stay `delivery_success=false`)."""
        return self._send(("POST", "/_fake/webhooks/pause", None))

    def resume_webhooks(self) -> T:
        return self._send(("POST", "/_fake/webhooks/resume", None))

    def configure_webhooks(
        self,
        url: str | None,
        secret: str | None = None,
        connect_secret: str | None = None,
        *,
        out_of_order: bool = False,
        duplicate: bool = False,
        retry_base_seconds: float | None = None,
        max_attempts: int | None = None,
    ) -> T:
        body: dict[str, Any] = {
            "url": url,
            "connect_secret": connect_secret,
            "out_of_order": out_of_order,
            "duplicate": duplicate,
        }
        if secret is not None:
            body["secret"] = secret
        if retry_base_seconds is not None:
            body["retry_base_seconds"] = retry_base_seconds
        if max_attempts is not None:
            body["max_attempts"] = max_attempts
        return self._send(("POST", "/_fake/webhooks", body))

    def set_faults(
        self,
        mode: str | None,
        *,
        count: int | None = None,
        delay_seconds: float = 1.0,
        path: str | None = None,
    ) -> T:
        """Faults for the next `count` `/v1/` requests (those under `path` when given)."""
        body = {"mode": mode, "count": count, "delay_seconds": delay_seconds, "path": path}
        return self._send(("POST", "/_fake/faults", body))

    def clear_faults(self) -> T:
        return self.set_faults(None)

    def deliveries(self) -> T:
        return self._send(("GET", "/_fake/webhooks/deliveries", None))

    def events(self) -> T:
        return self._send(("GET", "/_fake/events", None))

    def resend_event(self, event_id: str) -> T:
        return self._send(("POST", f"/_fake/events/{event_id}/resend", None))

    def reset(self) -> T:
        return self._send(("POST", "/_fake/reset", None))


def _decode(response: httpx.Response) -> dict[str, Any]:
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


class Control(_Calls[dict[str, Any]]):
    """Synchronous control client."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _send(self, call: Call) -> dict[str, Any]:
        method, path, body = call
        with httpx.Client(base_url=self.url, timeout=10) as client:
            return _decode(client.request(method, path, json=body))


class AsyncControl(_Calls[Awaitable[dict[str, Any]]]):
    """Asynchronous control client (same calls, awaited)."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def _request(self, call: Call) -> dict[str, Any]:
        method, path, body = call
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            return _decode(await client.request(method, path, json=body))

    def _send(self, call: Call) -> Awaitable[dict[str, Any]]:
        return self._request(call)


def start_fake(config: FakeConfig) -> RunningServer:
    return serve_in_thread(build_app(config), host=config.host, port=config.port, loop="asyncio")
