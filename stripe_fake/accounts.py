"""Connected accounts: Stripe's account object and the onboarding states it moves through."""

from __future__ import annotations

import copy
from typing import Any

from stripe_fake import payout_schedule
from stripe_fake.errors import invalid_request
from stripe_fake.ids import account_id, now
from stripe_fake.store import JSON

INITIAL_DUE = [
    "business_profile.mcc",
    "business_profile.url",
    "business_type",
    "external_account",
    "individual.address.city",
    "individual.address.line1",
    "individual.address.postal_code",
    "individual.dob.day",
    "individual.email",
    "individual.first_name",
    "individual.last_name",
    "individual.phone",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]
PENDING_VERIFICATION = ["individual.id_number", "individual.verification.document"]
RESTRICTED_DUE = ["individual.verification.document"]
REJECT_REASONS = ("fraud", "terms_of_service", "listed", "other")


def requirements(
    *,
    currently_due: list[str] | None = None,
    past_due: list[str] | None = None,
    pending: list[str] | None = None,
    disabled_reason: str | None = None,
    current_deadline: int | None = None,
) -> JSON:
    due = list(currently_due or [])
    return {
        "alternatives": [],
        "current_deadline": current_deadline,
        "currently_due": due,
        "disabled_reason": disabled_reason,
        "errors": [],
        "eventually_due": sorted(set(due) | set(past_due or [])),
        "past_due": list(past_due or []),
        "pending_verification": list(pending or []),
    }


def parse_bool(value: Any, param: str) -> bool:
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise invalid_request(f"Invalid boolean: {value}", param=param)


def _controller(params: JSON) -> tuple[JSON, str]:
    given = params.get("controller") or {}
    if not isinstance(given, dict):
        given = {}
    dashboard = (given.get("stripe_dashboard") or {}).get("type")
    account_type = params.get("type")
    if dashboard is None:
        dashboard = {"express": "express", "custom": "none"}.get(str(account_type), "full")
    if account_type is None:
        account_type = {"express": "express", "none": "custom"}.get(dashboard, "standard")
    fees = (given.get("fees") or {}).get("payer")
    losses = (given.get("losses") or {}).get("payments")
    collection = given.get("requirement_collection")
    controller: JSON = {
        "fees": {"payer": fees or ("application" if dashboard != "full" else "account")},
        "is_controller": True,
        "losses": {"payments": losses or ("application" if dashboard != "full" else "stripe")},
        "requirement_collection": collection
        or ("stripe" if dashboard != "none" else "application"),
        "stripe_dashboard": {"type": dashboard},
        "type": "application",
    }
    return controller, str(account_type)


def _requested_capabilities(params: JSON) -> dict[str, bool]:
    caps = params.get("capabilities") or {}
    result = {}
    if isinstance(caps, dict):
        for name, spec in caps.items():
            if isinstance(spec, dict) and "requested" in spec:
                result[name] = parse_bool(spec["requested"], f"capabilities[{name}][requested]")
    return result


def _merge(target: JSON, updates: JSON) -> None:
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _payout_settings(params: JSON, current: JSON | None = None) -> JSON:
    settings: JSON = (
        copy.deepcopy(current)
        if current
        else {
            "branding": {
                "icon": None,
                "logo": None,
                "primary_color": None,
                "secondary_color": None,
            },
            "card_payments": {"statement_descriptor_prefix": None},
            "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
            "payments": {"statement_descriptor": None},
            "payouts": {
                "debit_negative_balances": True,
                "schedule": payout_schedule.default_schedule(),
                "statement_descriptor": None,
            },
        }
    )
    given = params.get("settings")
    if isinstance(given, dict):
        payouts_given = given.get("payouts") or {}
        schedule = payouts_given.get("schedule") if isinstance(payouts_given, dict) else None
        rest = {k: v for k, v in given.items() if k != "payouts"}
        if isinstance(payouts_given, dict):
            rest["payouts"] = {k: v for k, v in payouts_given.items() if k != "schedule"}
        _merge(settings, rest)
        payouts: JSON = settings["payouts"]
        if schedule is not None:
            payouts["schedule"] = payout_schedule.apply(payouts["schedule"], schedule)
        if "debit_negative_balances" in payouts_given:
            payouts["debit_negative_balances"] = parse_bool(
                payouts["debit_negative_balances"], "settings[payouts][debit_negative_balances]"
            )
    return settings


def parse_int(value: Any, param: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit())
    ):
        raise invalid_request(
            f"Invalid integer: {value}", param=param, code="parameter_invalid_integer"
        )
    number = int(value)
    if minimum is not None and number < minimum:
        raise invalid_request(
            f"This value must be greater than or equal to {minimum}.",
            param=param,
            code="parameter_invalid_integer",
        )
    return number


def _metadata(params: JSON, current: JSON | None = None) -> JSON:
    given = params.get("metadata")
    result: JSON = dict(current or {})
    if given == "":
        return {}
    if given is None:
        return result
    if not isinstance(given, dict):
        raise invalid_request("Invalid hash", param="metadata")
    for key, value in given.items():
        if value == "":
            result.pop(key, None)
        elif not isinstance(value, str):
            raise invalid_request("Invalid string", param=f"metadata[{key}]")
        else:
            result[key] = value
    return result


metadata = _metadata


def new_account(params: JSON) -> JSON:
    controller, account_type = _controller(params)
    identifier = account_id()
    country = str(params.get("country") or "US").upper()
    caps = {name: "inactive" for name, on in _requested_capabilities(params).items() if on}
    due = list(INITIAL_DUE)
    return {
        "id": identifier,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": None,
            "name": None,
            "product_description": None,
            "support_address": None,
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
            **(params.get("business_profile") or {}),
        },
        "business_type": params.get("business_type"),
        "capabilities": caps,
        "charges_enabled": False,
        "controller": controller,
        "country": country,
        "created": now(),
        "default_currency": str(params.get("default_currency") or _currency_for(country)),
        "details_submitted": False,
        "email": params.get("email"),
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/accounts/{identifier}/external_accounts",
        },
        "future_requirements": requirements(),
        "metadata": _metadata(params),
        "payouts_enabled": False,
        "requirements": requirements(
            currently_due=due, past_due=due, disabled_reason="requirements.past_due"
        ),
        "settings": _payout_settings(params),
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
        "type": account_type,
    }


def _currency_for(country: str) -> str:
    return {
        "GB": "gbp", "JP": "jpy", "CA": "cad", "AU": "aud", "CH": "chf", "KR": "krw",
        "DE": "eur", "FR": "eur", "IE": "eur", "NL": "eur", "ES": "eur", "IT": "eur",
    }.get(country, "usd")  # fmt: skip


def update_account(account: JSON, params: JSON) -> None:
    """Apply `POST /v1/accounts/{id}` parameters in place; every check runs before the first
    change, so a refused update leaves the account as it was."""
    settings = _payout_settings(params, account["settings"]) if "settings" in params else None
    meta = _metadata(params, account["metadata"]) if "metadata" in params else None
    requested = _requested_capabilities(params)
    for key in ("email", "business_type", "default_currency"):
        if key in params:
            account[key] = params[key] or None
    if isinstance(params.get("business_profile"), dict):
        _merge(account["business_profile"], params["business_profile"])
    if meta is not None:
        account["metadata"] = meta
    if settings is not None:
        account["settings"] = settings
    for name, on in requested.items():
        if on and name not in account["capabilities"]:
            active = account["charges_enabled"] and account["payouts_enabled"]
            account["capabilities"][name] = "active" if active else "inactive"
        elif not on:
            account["capabilities"].pop(name, None)


def capability(account: JSON, name: str) -> JSON:
    """Stripe's `capability` object, as carried by `capability.updated`."""
    status = account["capabilities"].get(name, "unrequested")
    due = [] if status == "active" else list(account["requirements"]["currently_due"])
    return {
        "id": name,
        "object": "capability",
        "account": account["id"],
        "future_requirements": requirements(),
        "requested": name in account["capabilities"],
        "requested_at": account["created"],
        "requirements": requirements(
            currently_due=due,
            past_due=list(account["requirements"]["past_due"]) if status != "active" else [],
            pending=list(account["requirements"]["pending_verification"]),
            disabled_reason=account["requirements"]["disabled_reason"],
        ),
        "status": status,
    }


# --- onboarding transitions (driven by the control API) ---------------------------------------


def submit_details(account: JSON) -> None:
    account["details_submitted"] = True
    account["charges_enabled"] = False
    account["payouts_enabled"] = False
    account["tos_acceptance"]["date"] = account["tos_acceptance"]["date"] or now()
    account["requirements"] = requirements(
        pending=PENDING_VERIFICATION, disabled_reason="requirements.pending_verification"
    )
    for name in account["capabilities"]:
        account["capabilities"][name] = "pending"


def complete_onboarding(account: JSON) -> None:
    account["details_submitted"] = True
    account["charges_enabled"] = True
    account["payouts_enabled"] = True
    account["tos_acceptance"]["date"] = account["tos_acceptance"]["date"] or now()
    account["requirements"] = requirements()
    account["future_requirements"] = requirements()
    for name in account["capabilities"]:
        account["capabilities"][name] = "active"


def restrict(account: JSON) -> None:
    account["charges_enabled"] = False
    account["payouts_enabled"] = False
    account["requirements"] = requirements(
        currently_due=RESTRICTED_DUE,
        past_due=RESTRICTED_DUE,
        disabled_reason="requirements.past_due",
    )
    for name in account["capabilities"]:
        account["capabilities"][name] = "inactive"


def request_info(account: JSON, fields: list[str], deadline: int) -> None:
    """Stripe asks an enabled account for more by a deadline; it stays enabled until then."""
    current = account["requirements"]
    account["requirements"] = requirements(
        currently_due=fields,
        past_due=current.get("past_due") or [],
        disabled_reason=current.get("disabled_reason"),
        current_deadline=deadline,
    )


def reject(account: JSON, reason: str) -> None:
    if reason not in REJECT_REASONS:
        raise ValueError(reason)
    account["charges_enabled"] = False
    account["payouts_enabled"] = False
    account["requirements"] = requirements(disabled_reason=f"rejected.{reason}")
    for name in account["capabilities"]:
        account["capabilities"][name] = "inactive"
