"""The role → components matrix and the profile read from an account, as pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from backend.stripe_side.account_profiles import ACCOUNT_PROFILES, has_stripe_dashboard, profile_of
from backend.stripe_side.embedded_components import (
    MANAGER_COMPONENTS,
    MEMBER_COMPONENTS,
    components_for,
)


@pytest.mark.parametrize(
    ("role", "components"),
    [
        ("owner", MANAGER_COMPONENTS),
        ("admin", MANAGER_COMPONENTS),
        ("member,admin", MANAGER_COMPONENTS),  # several roles, as Better Auth joins them
        (" admin ", MANAGER_COMPONENTS),
        ("member", MEMBER_COMPONENTS),
        ("Owner", MEMBER_COMPONENTS),  # role names compare case-sensitively, as Better Auth's
        ("", MEMBER_COMPONENTS),
        ("billing", MEMBER_COMPONENTS),
    ],
)
def test_only_owners_and_admins_get_the_components_that_change_the_account(
    role: str, components: Any
) -> None:
    assert components_for(role) is components


def test_no_component_a_member_gets_changes_the_account_or_moves_money() -> None:
    assert set(MEMBER_COMPONENTS) == {"payouts_list"}
    for name in ("balances", "payouts"):
        features: Any = MANAGER_COMPONENTS[name]["features"]
        assert features == {
            "standard_payouts": False,
            "instant_payouts": False,
            "edit_payout_schedule": False,
        }


@pytest.mark.parametrize(
    ("account", "profile"),
    [
        ({"controller": {"stripe_dashboard": {"type": "none"}}}, "custom"),
        ({"controller": {"stripe_dashboard": {"type": "express"}}}, "express"),
        ({"controller": {}}, "express"),
        ({}, "express"),
        ({"controller": "odd"}, "express"),
    ],
)
def test_the_profile_an_account_shows(account: dict[str, Any], profile: str) -> None:
    assert profile_of(account) == profile


def test_each_profile_reads_back_as_itself_and_only_custom_lacks_a_dashboard() -> None:
    for name, params in ACCOUNT_PROFILES.items():
        assert profile_of(dict(params)) == name
    assert (has_stripe_dashboard("express"), has_stripe_dashboard(None)) == (True, True)
    assert has_stripe_dashboard("custom") is False
