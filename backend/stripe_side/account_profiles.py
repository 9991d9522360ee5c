"""The account profiles: how the platform's connected accounts are made, in one place.

`express` (the default) gives each organization Stripe's Express Dashboard; `custom` gives it no
Stripe dashboard at all: the platform collects requirements (Stripe-hosted onboarding through
Account Links, or the embedded onboarding component) and owns the whole experience, with Stripe's
embedded Connect components (`backend/stripe_side/embedded_components.py`). In both the platform
pays Stripe's fees and carries the losses, and payouts start manual (DESIGN decisions 1, 3 and 8).

`CONNECT_ACCOUNT_PROFILE` picks the profile of *new* accounts. The profile an account was made with
is recorded on its organization and read from there afterwards, so changing the setting never
changes what an existing account may do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stripe.params import AccountCreateParams

from backend.core.records import AccountProfile

_SHARED: AccountCreateParams = {
    "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
    "settings": {"payouts": {"schedule": {"interval": "manual"}}},
}

ACCOUNT_PROFILES: dict[AccountProfile, AccountCreateParams] = {
    "express": {
        **_SHARED,
        "controller": {
            "stripe_dashboard": {"type": "express"},
            "fees": {"payer": "application"},
            "losses": {"payments": "application"},
            "requirement_collection": "stripe",
        },
    },
    "custom": {
        **_SHARED,
        "controller": {
            "stripe_dashboard": {"type": "none"},
            "fees": {"payer": "application"},
            "losses": {"payments": "application"},
            "requirement_collection": "application",
        },
    },
}


def profile_of(account: Mapping[str, Any]) -> AccountProfile:
    """The profile a Stripe account object shows: no Stripe dashboard is `custom`. Read from the
    account Stripe made, not from the setting, so an idempotent replay of an older creation (made
    under another setting) is recorded as what it is."""
    controller = account.get("controller")
    dashboard = controller.get("stripe_dashboard") if isinstance(controller, dict) else None
    kind = dashboard.get("type") if isinstance(dashboard, dict) else None
    return "custom" if kind == "none" else "express"


def has_stripe_dashboard(profile: AccountProfile | None) -> bool:
    """Accounts recorded before profiles existed (None) were all Express."""
    return profile != "custom"
