"""Shared helpers for the fake's own tests."""

from __future__ import annotations

from typing import Any

import stripe
from stripe.params import AccountCreateParams

EXPRESS_ACCOUNT: AccountCreateParams = {
    "controller": {
        "stripe_dashboard": {"type": "express"},
        "fees": {"payer": "application"},
        "losses": {"payments": "application"},
        "requirement_collection": "stripe",
    },
    "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
    "settings": {"payouts": {"schedule": {"interval": "manual"}}},
    "country": "US",
    "email": "owner@example.com",
    "business_type": "company",
    "metadata": {"organization_id": "org_1"},
}


async def new_account(client: stripe.StripeClient, **overrides: Any) -> stripe.Account:
    # Overrides may be anything the fake should see, typed by the SDK or not.
    params: Any = {**EXPRESS_ACCOUNT, **overrides}
    return await client.v1.accounts.create_async(params=params)
