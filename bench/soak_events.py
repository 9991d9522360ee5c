"""Stripe-shaped webhook events, signed the way Stripe signs them, for the soak run and the
reliability tests: they need many distinct events with chosen ids, types and `created` times."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

API_VERSION = "2025-01-27.acacia"


def sign(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """`Stripe-Signature`: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>`."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event(
    event_id: str,
    event_type: str,
    obj: Mapping[str, Any],
    *,
    created: int,
    account: str | None = None,
) -> bytes:
    body: dict[str, Any] = {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": dict(obj), "previous_attributes": {}},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    if account is not None:
        body["account"] = account
    return json.dumps(body, separators=(",", ":")).encode()


def account_updated(event_id: str, account_id: str, *, created: int) -> bytes:
    """The payload is only a hint: the backend re-reads the account from Stripe."""
    obj = {"id": account_id, "object": "account"}
    return event(event_id, "account.updated", obj, created=created, account=account_id)


def payout_event(
    event_id: str,
    event_type: str,
    *,
    account_id: str,
    payout_id: str,
    status: str,
    amount: int,
    created: int,
    currency: str = "usd",
) -> bytes:
    obj: dict[str, Any] = {
        "id": payout_id,
        "object": "payout",
        "amount": amount,
        "currency": currency,
        "status": status,
        "arrival_date": created + 86_400,
        "created": created,
        "failure_code": "account_closed" if status == "failed" else None,
        "failure_message": "The bank account has been closed." if status == "failed" else None,
    }
    return event(event_id, event_type, obj, created=created, account=account_id)


def transfer_event(
    event_id: str,
    event_type: str,
    *,
    transfer_id: str,
    destination: str,
    amount: int,
    amount_reversed: int,
    created: int,
    currency: str = "usd",
) -> bytes:
    """A platform event (no `account`): transfers belong to the platform."""
    obj = {
        "id": transfer_id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": amount_reversed,
        "currency": currency,
        "destination": destination,
        "reversed": amount_reversed >= amount,
        "created": created,
    }
    return event(event_id, event_type, obj, created=created)
