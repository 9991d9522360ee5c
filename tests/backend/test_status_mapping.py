from __future__ import annotations

from typing import Any

import pytest

from backend.webhooks.status_mapping import (
    AccountStatus,
    deauthorized_fields,
    map_account_status,
    organization_fields,
)


def account(
    *,
    submitted: bool = True,
    charges: bool = False,
    payouts: bool = False,
    due: list[str] | None = None,
    past_due: list[str] | None = None,
    reason: str | None = None,
    deadline: int | None = None,
) -> dict[str, Any]:
    return {
        "id": "acct_1",
        "details_submitted": submitted,
        "charges_enabled": charges,
        "payouts_enabled": payouts,
        "requirements": {
            "currently_due": due or [],
            "past_due": past_due or [],
            "disabled_reason": reason,
            "current_deadline": deadline,
        },
    }


CASES = [
    ("no account", None, ("pending", "account_creation", None)),
    (
        "fresh express account (Stripe already says past_due)",
        account(
            submitted=False,
            due=["business_type"],
            past_due=["business_type"],
            reason="requirements.past_due",
        ),
        ("pending", "details_submission", None),
    ),
    ("details not submitted", account(submitted=False), ("pending", "details_submission", None)),
    ("submitted, not enabled yet", account(), ("pending", "verification", None)),
    (
        "submitted, Stripe verifying",
        account(reason="requirements.pending_verification"),
        ("pending", "verification", None),
    ),
    ("under review", account(reason="under_review"), ("pending", "verification", None)),
    ("charges only", account(charges=True), ("pending", "verification", None)),
    ("fully enabled", account(charges=True, payouts=True), ("active", "complete", None)),
    (
        "enabled with future requirements",
        account(charges=True, payouts=True, due=["individual.id_number"]),
        ("active", "complete", None),
    ),
    (
        "rejected for fraud",
        account(charges=True, payouts=True, reason="rejected.fraud"),
        ("disabled", "rejected", "rejected.fraud"),
    ),
    (
        "rejected before submitting",
        account(submitted=False, reason="rejected.terms_of_service"),
        ("disabled", "rejected", "rejected.terms_of_service"),
    ),
    (
        "restricted: requirements past due",
        account(past_due=["external_account"], reason="requirements.past_due"),
        ("disabled", "verification", "requirements.past_due"),
    ),
    (
        "past due without a reason yet",
        account(past_due=["external_account"]),
        ("disabled", "verification", "requirements.past_due"),
    ),
    (
        "paused by the platform",
        account(charges=True, payouts=True, reason="platform_paused"),
        ("disabled", "verification", "platform_paused"),
    ),
]


@pytest.mark.parametrize(
    ("acct", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_status_mapping_table(acct: dict[str, Any] | None, expected: tuple[Any, ...]) -> None:
    assert map_account_status(acct) == AccountStatus(*expected)


def test_organization_fields_carry_flags_and_requirements() -> None:
    fields = organization_fields(
        account(charges=True, payouts=True, due=["x"], deadline=1_800_000_000)
    )
    assert fields == {
        "stripe_connect_status": "active",
        "onboarding_step": "complete",
        "onboarding_rejection_reason": None,
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
        "requirements_currently_due": ["x"],
        "requirements_past_due": [],
        "requirements_disabled_reason": None,
        "requirements_current_deadline": 1_800_000_000,
        "payout_schedule_interval": "manual",
        "payout_schedule_delay_days": None,
        "payout_schedule_weekly_anchor": None,
        "payout_schedule_monthly_anchor": None,
    }


def schedule(**values: object) -> dict[str, Any]:
    return {**account(), "settings": {"payouts": {"schedule": values}}}


@pytest.mark.parametrize(
    ("stripe_schedule", "expected"),
    [
        ({"interval": "manual", "delay_days": 2}, ("manual", 2, None, None)),
        ({"interval": "daily", "delay_days": 7}, ("daily", 7, None, None)),
        ({"interval": "weekly", "weekly_anchor": "friday"}, ("weekly", None, "friday", None)),
        ({"interval": "monthly", "monthly_anchor": 31}, ("monthly", None, None, 31)),
        # An anchor of another interval is dropped, as Stripe drops it.
        ({"interval": "daily", "weekly_anchor": "friday"}, ("daily", None, None, None)),
        # Unknown shapes read as manual: never claim Stripe pays out on its own when unsure.
        ({"interval": "hourly"}, ("manual", None, None, None)),
        ({}, ("manual", None, None, None)),
        ({"interval": "monthly", "monthly_anchor": 40}, ("monthly", None, None, None)),
        ({"interval": "weekly", "weekly_anchor": "Friday"}, ("weekly", None, None, None)),
        ({"interval": "daily", "delay_days": True}, ("daily", None, None, None)),
    ],
)
def test_the_payout_schedule_is_read_from_the_account_settings(
    stripe_schedule: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    fields = organization_fields(schedule(**stripe_schedule))
    assert (
        fields["payout_schedule_interval"],
        fields["payout_schedule_delay_days"],
        fields["payout_schedule_weekly_anchor"],
        fields["payout_schedule_monthly_anchor"],
    ) == expected


@pytest.mark.parametrize("deadline", [None, "1800000000", -1, True, 1.5])
def test_a_deadline_that_is_not_unix_seconds_counts_as_none(deadline: object) -> None:
    acct = account(due=["x"])
    acct["requirements"]["current_deadline"] = deadline
    assert organization_fields(acct)["requirements_current_deadline"] is None


def test_deauthorized_org_is_disabled_and_cannot_receive_money() -> None:
    fields = deauthorized_fields()
    assert fields["stripe_connect_status"] == "disabled"
    assert fields["onboarding_rejection_reason"] == "deauthorized"
    assert fields["charges_enabled"] is False
    assert fields["payouts_enabled"] is False
