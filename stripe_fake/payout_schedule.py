"""`settings.payouts.schedule` of a connected account: Stripe's rules for setting it, and when an
automatic schedule is due.

The stored schedule carries only the keys Stripe shows for its interval: `weekly_anchor` (and
`weekly_payout_days`) for `weekly`, `monthly_anchor` (and `monthly_payout_days`) for `monthly`;
`delay_days` keeps its last value when the interval becomes `manual`, as Stripe documents.
"""

from __future__ import annotations

import calendar
import datetime
from typing import Any

from stripe_fake.errors import StripeFakeError, invalid_request, missing_parameter
from stripe_fake.store import JSON

INTERVALS = ("manual", "daily", "weekly", "monthly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PAYOUT_WEEKDAYS = WEEKDAYS[:5]
"""`weekly_payout_days` takes business days only (the SDK's enum); `weekly_anchor` any day."""
MINIMUM_DELAY_DAYS = 2
"""The US minimum ("minimum" resolves to it); the fake uses it for every country."""
MAXIMUM_DELAY_DAYS = 365
_PREFIX = "settings[payouts][schedule]"


def default_schedule() -> JSON:
    return {"delay_days": MINIMUM_DELAY_DAYS, "interval": "daily"}


def _param(key: str) -> str:
    return f"{_PREFIX}[{key}]"


def _integer(value: Any, key: str, *, low: int, high: int) -> int:
    text = str(value)
    if isinstance(value, bool) or not (isinstance(value, int) or text.lstrip("-").isdigit()):
        raise invalid_request(
            f"Invalid integer: {value}", param=_param(key), code="parameter_invalid_integer"
        )
    number = int(text)
    if number < low:
        raise invalid_request(
            f"This value must be greater than or equal to {low}.",
            param=_param(key),
            code="parameter_invalid_integer",
        )
    if number > high:
        raise invalid_request(
            f"This value must be less than or equal to {high}.",
            param=_param(key),
            code="parameter_invalid_integer",
        )
    return number


def _weekday(value: Any, key: str, allowed: tuple[str, ...] = WEEKDAYS) -> str:
    if value not in allowed:
        raise invalid_request(
            f"Invalid {_param(key)}: must be one of {', '.join(allowed)}", param=_param(key)
        )
    return str(value)


def _as_list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise invalid_request(f"Invalid array: {_param(key)}", param=_param(key))
    return value


def _only_for(key: str, interval: str, given: JSON) -> None:
    if key in given and given[key] not in (None, ""):
        raise invalid_request(
            f"You can only set `{key}` when `interval` is `{interval}`.", param=_param(key)
        )


def apply(current: JSON, given: Any) -> JSON:
    """The schedule after `settings[payouts][schedule]=given`, or Stripe's 400 for bad input."""
    if not isinstance(given, dict):
        raise invalid_request("Invalid object", param=_PREFIX)
    interval = str(given.get("interval", current.get("interval", "daily")))
    if interval not in INTERVALS:
        raise invalid_request(
            f"Invalid {_param('interval')}: must be one of {', '.join(INTERVALS)}",
            param=_param("interval"),
        )
    schedule: JSON = {"delay_days": current.get("delay_days", MINIMUM_DELAY_DAYS)}
    if "delay_days" in given:
        raw = given["delay_days"]
        schedule["delay_days"] = (
            MINIMUM_DELAY_DAYS
            if raw == "minimum"
            else _integer(raw, "delay_days", low=MINIMUM_DELAY_DAYS, high=MAXIMUM_DELAY_DAYS)
        )
    schedule["interval"] = interval
    unchanged = interval == current.get("interval")
    if interval == "weekly":
        _only_for("monthly_anchor", "monthly", given)
        _only_for("monthly_payout_days", "monthly", given)
        if "weekly_payout_days" in given:
            days = _as_list(given["weekly_payout_days"], "weekly_payout_days")
            schedule["weekly_payout_days"] = [
                _weekday(d, "weekly_payout_days", PAYOUT_WEEKDAYS) for d in days
            ]
        elif unchanged and "weekly_payout_days" in current and "weekly_anchor" not in given:
            schedule["weekly_payout_days"] = list(current["weekly_payout_days"])
        if "weekly_anchor" in given:
            schedule["weekly_anchor"] = _weekday(given["weekly_anchor"], "weekly_anchor")
        elif unchanged and "weekly_anchor" in current:
            schedule["weekly_anchor"] = current["weekly_anchor"]
        if "weekly_anchor" not in schedule and "weekly_payout_days" not in schedule:
            raise missing_parameter(_param("weekly_anchor"))
    elif interval == "monthly":
        _only_for("weekly_anchor", "weekly", given)
        _only_for("weekly_payout_days", "weekly", given)
        if "monthly_payout_days" in given:
            days = _as_list(given["monthly_payout_days"], "monthly_payout_days")
            schedule["monthly_payout_days"] = [
                _integer(d, "monthly_payout_days", low=1, high=31) for d in days
            ]
        elif unchanged and "monthly_payout_days" in current and "monthly_anchor" not in given:
            schedule["monthly_payout_days"] = list(current["monthly_payout_days"])
        if "monthly_anchor" in given:
            schedule["monthly_anchor"] = _integer(
                given["monthly_anchor"], "monthly_anchor", low=1, high=31
            )
        elif unchanged and "monthly_anchor" in current:
            schedule["monthly_anchor"] = current["monthly_anchor"]
        if "monthly_anchor" not in schedule and "monthly_payout_days" not in schedule:
            raise missing_parameter(_param("monthly_anchor"))
    else:
        for key, only in (
            ("weekly_anchor", "weekly"),
            ("weekly_payout_days", "weekly"),
            ("monthly_anchor", "monthly"),
            ("monthly_payout_days", "monthly"),
        ):
            _only_for(key, only, given)
    return schedule


def is_automatic(schedule: JSON) -> bool:
    return bool(schedule.get("interval", "daily") != "manual")


def is_due(schedule: JSON, today: datetime.date) -> bool:
    """Whether an automatic schedule pays out on `today` (UTC). A monthly day past the end of a
    short month falls on its last day, as Stripe documents."""
    interval = schedule.get("interval")
    if interval == "daily":
        return True
    if interval == "weekly":
        days = set(schedule.get("weekly_payout_days") or [])
        if "weekly_anchor" in schedule:
            days.add(schedule["weekly_anchor"])
        return WEEKDAYS[today.weekday()] in days
    if interval == "monthly":
        last = calendar.monthrange(today.year, today.month)[1]
        days = set(schedule.get("monthly_payout_days") or [])
        if "monthly_anchor" in schedule:
            days.add(schedule["monthly_anchor"])
        return today.day in {min(d, last) for d in days}
    return False


def refuse_manual_payout() -> StripeFakeError:
    """A standard payout requested through the API while the account pays out automatically."""
    return StripeFakeError(
        400,
        type="invalid_request_error",
        message=(
            "You cannot create a standard payout on an account whose payout schedule is "
            "automatic. Set settings[payouts][schedule][interval] to manual to create payouts "
            "through the API."
        ),
    )
