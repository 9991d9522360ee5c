from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from devstack import seed
from tests.worker.conftest import Core


def make_org(core: Core, slug: str = "acme") -> str:
    conn = sqlite3.connect(core.db_path, isolation_level=None)
    org_id = seed.create_organization(conn, name=slug.title(), slug=slug)
    conn.close()
    return org_id


async def test_get_organization_returns_the_contract_shape(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    status, body = await fresh_core.call("GET", f"/api/internal/organization/{org_id}")
    assert status == 200
    assert body["organization"] == {
        "id": org_id,
        "name": "Acme",
        "slug": "acme",
        "stripe_connect_account_id": None,
        "stripe_connect_status": None,
        "onboarding_step": "account_creation",
        "onboarding_rejection_reason": None,
        "platform_fee_percent": 10.0,
        "platform_fee_fixed": 0,
        "charges_enabled": False,
        "payouts_enabled": False,
        "details_submitted": False,
        "requirements_currently_due": [],
        "requirements_past_due": [],
        "requirements_disabled_reason": None,
        "requirements_current_deadline": None,
        "stripe_synced_at": None,
        "auto_transfer_payments": False,
        "payout_schedule_interval": "manual",
        "payout_schedule_delay_days": None,
        "payout_schedule_weekly_anchor": None,
        "payout_schedule_monthly_anchor": None,
        "stripe_connect_account_profile": None,
    }


@pytest.mark.parametrize("org_id", ["nope", "1' OR '1'='1", "1;DROP TABLE organization", "%27"])
async def test_unknown_and_sql_looking_ids_are_just_not_found(
    fresh_core: Core, org_id: str
) -> None:
    make_org(fresh_core)
    status, body = await fresh_core.call("GET", f"/api/internal/organization/{org_id}")
    assert status == 404
    assert body["error"]["code"] == "organization_not_found"
    status, _ = await fresh_core.call("GET", f"/api/internal/organization-by-account/{org_id}")
    assert status == 404


async def test_create_connect_account_is_idempotent_and_conflicts_on_another_id(
    fresh_core: Core,
) -> None:
    org_id, other = make_org(fresh_core), make_org(fresh_core, "globex")
    body = {"organization_id": org_id, "stripe_account_id": "acct_A1"}
    status, created = await fresh_core.post("create-connect-account", body)
    assert status == 201
    assert created["created"] is True
    assert created["organization"]["stripe_connect_status"] == "pending"
    assert created["organization"]["onboarding_step"] == "details_submission"
    assert created["organization"]["stripe_connect_account_profile"] == "express"
    status, again = await fresh_core.post("create-connect-account", body)
    assert status == 200
    assert again["created"] is False
    assert again["organization"] == created["organization"]
    status, conflict = await fresh_core.post(
        "create-connect-account", {"organization_id": org_id, "stripe_account_id": "acct_B2"}
    )
    assert status == 409
    assert conflict["error"]["code"] == "account_conflict"
    status, _ = await fresh_core.post(
        "create-connect-account", {"organization_id": other, "stripe_account_id": "acct_A1"}
    )
    assert status == 409
    status, by_account = await fresh_core.call(
        "GET", "/api/internal/organization-by-account/acct_A1"
    )
    assert status == 200
    assert by_account["organization"]["id"] == org_id
    status, _ = await fresh_core.post(
        "create-connect-account", {"organization_id": "missing", "stripe_account_id": "acct_C3"}
    )
    assert status == 404


async def test_the_account_profile_is_recorded_once_with_the_account(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    body = {"organization_id": org_id, "stripe_account_id": "acct_P1", "account_profile": "custom"}
    status, created = await fresh_core.post("create-connect-account", body)
    assert (status, created["organization"]["stripe_connect_account_profile"]) == (201, "custom")
    # The same account again under another profile is the same no-op: the first one stands.
    status, again = await fresh_core.post(
        "create-connect-account", {**body, "account_profile": "express"}
    )
    assert (status, again["organization"]["stripe_connect_account_profile"]) == (200, "custom")
    # It is a fact of the account's creation, not a field a later update may change.
    status, refused = await fresh_core.post(
        "update-organization",
        {"organization_id": org_id, "fields": {"stripe_connect_account_profile": "express"}},
    )
    assert (status, refused["error"]["code"]) == (400, "invalid_request")


@pytest.mark.parametrize("profile", ["standard", "", None, 1, "CUSTOM"])
async def test_an_unknown_account_profile_is_refused_and_nothing_is_stored(
    fresh_core: Core, profile: Any
) -> None:
    org_id = make_org(fresh_core)
    status, body = await fresh_core.post(
        "create-connect-account",
        {"organization_id": org_id, "stripe_account_id": "acct_P2", "account_profile": profile},
    )
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    status, org = await fresh_core.call("GET", f"/api/internal/organization/{org_id}")
    assert org["organization"]["stripe_connect_account_id"] is None


async def test_update_writes_allow_listed_fields_with_the_newer_guard(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    fresh = {
        "stripe_connect_status": "active",
        "onboarding_step": "complete",
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
        "requirements_currently_due": [],
        "requirements_past_due": [],
        "requirements_disabled_reason": None,
        "requirements_current_deadline": 1_800_000_000,
    }
    status, body = await fresh_core.post(
        "update-organization", {"organization_id": org_id, "fields": fresh, "synced_at": 200}
    )
    assert status == 200
    assert body["updated"] is True
    assert body["organization"]["stripe_connect_status"] == "active"
    assert body["organization"]["requirements_current_deadline"] == 1_800_000_000
    assert body["organization"]["charges_enabled"] is True
    assert body["organization"]["stripe_synced_at"] == 200
    stale = {"stripe_connect_status": "pending", "requirements_currently_due": ["x"]}
    status, body = await fresh_core.post(
        "update-organization", {"organization_id": org_id, "fields": stale, "synced_at": 100}
    )
    assert status == 200
    assert body["updated"] is False
    assert body["organization"]["stripe_connect_status"] == "active"
    assert body["organization"]["stripe_synced_at"] == 200
    same_second = {"requirements_currently_due": ["business_profile.url"]}
    _, body = await fresh_core.post(
        "update-organization",
        {"organization_id": org_id, "fields": same_second, "synced_at": 200},
    )
    assert body["updated"] is True
    assert body["organization"]["requirements_currently_due"] == ["business_profile.url"]
    _, body = await fresh_core.post(
        "update-organization",
        {"organization_id": org_id, "fields": {"onboarding_rejection_reason": "fraud"}},
    )
    assert body["updated"] is True
    assert body["organization"]["stripe_synced_at"] == 200


async def test_the_newer_guard_orders_reads_within_one_second(fresh_core: Core) -> None:
    # Two re-reads of one account that start in the same second (a burst of account.updated and
    # capability.updated events): the one that started later saw the later state, so the other
    # must lose even when its write lands last.
    org_id = make_org(fresh_core)
    newer = {"stripe_connect_status": "active", "onboarding_step": "complete"}
    _, body = await fresh_core.post(
        "update-organization", {"organization_id": org_id, "fields": newer, "synced_at": 200.75}
    )
    assert body["updated"] is True
    older = {"stripe_connect_status": "pending", "onboarding_step": "verification"}
    _, body = await fresh_core.post(
        "update-organization", {"organization_id": org_id, "fields": older, "synced_at": 200.25}
    )
    assert body["updated"] is False
    assert body["organization"]["stripe_connect_status"] == "active"
    assert body["organization"]["stripe_synced_at"] == 200  # still whole seconds on the way out
    later = {"requirements_currently_due": ["external_account"]}
    _, body = await fresh_core.post(
        "update-organization", {"organization_id": org_id, "fields": later, "synced_at": 201}
    )
    assert (body["updated"], body["organization"]["stripe_synced_at"]) == (True, 201)


@pytest.mark.parametrize("synced_at", [-1, "200", True, 2**53 + 1, [200]])
async def test_synced_at_must_be_a_non_negative_number(fresh_core: Core, synced_at: Any) -> None:
    org_id = make_org(fresh_core)
    status, body = await fresh_core.post(
        "update-organization",
        {"organization_id": org_id, "fields": {"charges_enabled": True}, "synced_at": synced_at},
    )
    assert (status, body["error"]["code"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"platform_fee_percent": 0},  # the fee is never writable here
        {"stripe_connect_account_id": "acct_X"},
        {"name": "Evil"},
        {"slug\" = 'x', \"name": "x"},
        {"stripe_connect_status": "enabled"},
        {"onboarding_step": "done"},
        {"charges_enabled": 1},
        {"requirements_currently_due": "x"},
        {"requirements_currently_due": [1]},
        {"requirements_current_deadline": "2027-01-01"},
        {"requirements_current_deadline": -1},
        {"requirements_current_deadline": 1.5},
    ],
)
async def test_update_refuses_fields_outside_the_allow_list_or_domain(
    fresh_core: Core, fields: dict[str, Any]
) -> None:
    org_id = make_org(fresh_core)
    status, body = await fresh_core.post(
        "update-organization", {"organization_id": org_id, "fields": fields}
    )
    assert status == 400
    assert body["error"]["code"] == "invalid_request"
    _, stored = await fresh_core.call("GET", f"/api/internal/organization/{org_id}")
    assert stored["organization"]["name"] == "Acme"


async def test_update_of_a_missing_org_is_404(fresh_core: Core) -> None:
    status, _ = await fresh_core.post(
        "update-organization",
        {"organization_id": "missing", "fields": {"charges_enabled": True}},
    )
    assert status == 404


async def test_platform_fee_within_bounds_and_two_decimals(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    status, body = await fresh_core.post(
        "set-platform-fee",
        {"organization_id": org_id, "platform_fee_percent": 12.25, "platform_fee_fixed": 30},
    )
    assert status == 200
    assert body["organization"]["platform_fee_percent"] == 12.25
    assert body["organization"]["platform_fee_fixed"] == 30
    for bad in [50.01, -1, 1.005, True, "10", None]:
        status, _ = await fresh_core.post(
            "set-platform-fee", {"organization_id": org_id, "platform_fee_percent": bad}
        )
        assert status == 400, bad
    for fixed in [-1, 10_000_001, 1.5]:
        status, _ = await fresh_core.post(
            "set-platform-fee",
            {"organization_id": org_id, "platform_fee_percent": 5, "platform_fee_fixed": fixed},
        )
        assert status == 400, fixed
    status, _ = await fresh_core.post(
        "set-platform-fee", {"organization_id": "missing", "platform_fee_percent": 5}
    )
    assert status == 404
