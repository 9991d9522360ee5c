"""`POST /v1/account_sessions`: a client secret for Stripe's embedded Connect components.

The answer lists every component the SDK's `AccountSession.Components` declares, each with
`enabled` and every feature its `Features` class declares, so a new SDK's shape follows without
edits here. A feature not asked for takes Stripe's documented default for the account (the
docstrings of those classes): `external_account_collection` on, `disable_stripe_user_authentication`
its opposite, payouts and schedule editing on only where Stripe carries the account's losses.
Refused as Stripe does: a component it does not know (the params schema), a `Stripe-Account`
header, an account the platform does not control (unknown: 404; access revoked: 403), and the
features only accounts whose requirements the platform collects may use (Custom-like accounts).
"""

from __future__ import annotations

from functools import cache

from stripe._account_session import AccountSession

from stripe_fake.accounts import parse_bool
from stripe_fake.core import Ctx, require_platform
from stripe_fake.errors import invalid_request
from stripe_fake.ids import new_id, now
from stripe_fake.store import JSON

# How long a session's client secret may be claimed; Stripe's sessions are similarly short-lived.
SESSION_TTL_SECONDS = 30 * 60

# Features only an account whose requirements the platform collects may change from the default.
_PLATFORM_COLLECTED_ONLY = {
    "disable_stripe_user_authentication": True,
    "external_account_collection": False,
}
_DEFAULT_ON = {
    "external_account_collection",
    "capture_payments",
    "dispute_management",
    "refund_management",
}
_STRIPE_LOSSES_ON = {"edit_payout_schedule", "standard_payouts", "instant_payouts"}


@cache
def component_features() -> dict[str, tuple[str, ...]]:
    """Each component the SDK knows, with the names of its features."""
    components = AccountSession.Components
    out: dict[str, tuple[str, ...]] = {}
    for name in sorted(vars(components).get("__annotations__", {})):
        features = getattr(components._inner_class_types[name], "Features", None)
        out[name] = tuple(sorted(vars(features).get("__annotations__", {})))
    return out


def _default(feature: str, features: dict[str, bool], account: JSON) -> bool:
    if feature == "disable_stripe_user_authentication":
        return not features.get("external_account_collection", True)
    if feature == "smart_disputes_management":
        return features.get("dispute_management", True)
    if feature in _STRIPE_LOSSES_ON:
        return bool(account["controller"]["losses"]["payments"] == "stripe")
    return feature in _DEFAULT_ON


def _features(component: str, given: object, account: JSON) -> dict[str, bool]:
    prefix = f"components[{component}][features]"
    asked = given if isinstance(given, dict) else {}
    chosen = {name: parse_bool(value, f"{prefix}[{name}]") for name, value in asked.items()}
    platform_collects = account["controller"]["requirement_collection"] == "application"
    for name, refused in _PLATFORM_COLLECTED_ONLY.items():
        if not platform_collects and chosen.get(name) is refused:
            raise invalid_request(
                f"`{name}` can only be set to {str(refused).lower()} for accounts where "
                "`controller.requirement_collection` is `application` (the platform collects "
                "requirements).",
                param=f"{prefix}[{name}]",
            )
    return {
        name: chosen[name] if name in chosen else _default(name, chosen, account)
        for name in component_features()[component]
    }


def create_account_session(ctx: Ctx) -> JSON:
    require_platform(ctx, "create account sessions")
    account = ctx.connected_account(str(ctx.params["account"]), param="account")
    given = ctx.params["components"]
    if not isinstance(given, dict):
        raise invalid_request("Invalid object", param="components")
    components: JSON = {}
    for name in component_features():
        asked = given.get(name)
        spec: JSON = asked if isinstance(asked, dict) else {}
        enabled = parse_bool(spec.get("enabled", False), f"components[{name}][enabled]")
        components[name] = {
            "enabled": enabled,
            "features": _features(name, spec.get("features"), account),
        }
    return {
        "object": "account_session",
        "account": account["id"],
        "client_secret": "_" + new_id("", 47),
        "components": components,
        "expires_at": now() + SESSION_TTL_SECONDS,
        "livemode": False,
    }
