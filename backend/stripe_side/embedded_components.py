"""Which of Stripe's embedded Connect components an Account Session grants, by the caller's role.

An Account Session's client secret lets the browser act on the organization's connected account
through Stripe's components, so it grants no more than the caller may do through our own routes:

| role            | components                                                             |
| --------------- | ---------------------------------------------------------------------- |
| owner, admin    | account_onboarding, account_management, notification_banner, balances, |
|                 | payouts                                                                |
| member          | payouts_list (read only: what `GET /api/connect/payouts/{org}` shows)  |

Money moves only through our routes, which keep the ledger, its idempotency keys and the
operator's allowed payout schedules: so `payouts` and `balances` are granted with standard and
instant payouts and schedule editing switched off (Stripe's own defaults for accounts whose losses
the platform carries, written out rather than left to a default that could change). Bank accounts
and requirements are handled in Stripe's components (`external_account_collection` stays on).
A member gets no component that changes the account or shows its bank details.
"""

from __future__ import annotations

from stripe.params import (
    AccountSessionCreateParamsComponents,
    AccountSessionCreateParamsComponentsPayoutsFeatures,
)

from backend.core.roles import MANAGER_ROLES, holds_any

_NO_MONEY_MOVEMENT: AccountSessionCreateParamsComponentsPayoutsFeatures = {
    "standard_payouts": False,
    "instant_payouts": False,
    "edit_payout_schedule": False,
}

MANAGER_COMPONENTS: AccountSessionCreateParamsComponents = {
    "account_onboarding": {"enabled": True},
    "account_management": {"enabled": True},
    "notification_banner": {"enabled": True},
    "balances": {"enabled": True, "features": {**_NO_MONEY_MOVEMENT}},
    "payouts": {"enabled": True, "features": {**_NO_MONEY_MOVEMENT}},
}
MEMBER_COMPONENTS: AccountSessionCreateParamsComponents = {"payouts_list": {"enabled": True}}


def components_for(role: str) -> AccountSessionCreateParamsComponents:
    """The components `role` (Better Auth's `member.role`, possibly a list) may use."""
    return MANAGER_COMPONENTS if holds_any(role, MANAGER_ROLES) else MEMBER_COMPONENTS
