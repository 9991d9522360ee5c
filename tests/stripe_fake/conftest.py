"""Shared helpers for the fake's own tests."""

from __future__ import annotations

from typing import Any

import stripe
from stripe.params import AccountCreateParams

from backend.stripe_side.account_profiles import ACCOUNT_PROFILES

# The profiles the backend creates accounts with, so the fake is tested on what it will be sent.
EXPRESS_ACCOUNT: AccountCreateParams = {
    **ACCOUNT_PROFILES["express"],
    "country": "US",
    "email": "owner@example.com",
    "business_type": "company",
    "metadata": {"organization_id": "org_1"},
}
CUSTOM_ACCOUNT: AccountCreateParams = {**EXPRESS_ACCOUNT, **ACCOUNT_PROFILES["custom"]}


async def new_account(client: stripe.StripeClient, **overrides: Any) -> stripe.Account:
    # Overrides may be anything the fake should see, typed by the SDK or not.
    params: Any = {**EXPRESS_ACCOUNT, **overrides}
    return await client.v1.accounts.create_async(params=params)
