"""The status reply is the organization's Connect state under its `organization_id`: every field,
in the documented order, whatever the Worker adds beside them."""

from __future__ import annotations

import json

from backend.core.models import StatusReply
from backend.core.records import ConnectState
from backend.worker_side.worker_models import Organization

WORKER_ORGANIZATION = {
    "id": "org_1",
    "name": "Acme",
    "slug": "acme",
    "stripe_connect_account_id": "acct_1",
    "stripe_connect_status": "active",
    "onboarding_step": "complete",
    "onboarding_rejection_reason": None,
    "charges_enabled": True,
    "payouts_enabled": True,
    "details_submitted": True,
    "requirements_currently_due": ["external_account"],
    "requirements_past_due": ["individual.dob.day"],
    "requirements_disabled_reason": "requirements.past_due",
    "requirements_current_deadline": 1_767_225_600,
    "platform_fee_percent": 2.5,
    "platform_fee_fixed": 30,
    "stripe_synced_at": 1_767_000_000,
    "auto_transfer_payments": True,
    "payout_schedule_interval": "weekly",
    "payout_schedule_delay_days": 7,
    "payout_schedule_weekly_anchor": "friday",
    "payout_schedule_monthly_anchor": None,
    "stripe_connect_account_profile": "custom",
    "added_by_a_newer_worker": 1,
}


def test_the_reply_carries_every_connect_field_under_the_organization_id() -> None:
    org = Organization.model_validate_json(json.dumps(WORKER_ORGANIZATION))
    reply = StatusReply.of(org)
    expected = {"organization_id": "org_1"} | {
        name: WORKER_ORGANIZATION[name] for name in ConnectState.model_fields
    }
    assert json.loads(reply.model_dump_json()) == expected
    assert list(json.loads(reply.model_dump_json())) == list(expected)


def test_a_new_organization_answers_its_defaults() -> None:
    org = Organization(id="org_2")
    reply = json.loads(StatusReply.of(org).model_dump_json())
    assert reply == {"organization_id": "org_2", **ConnectState().model_dump()}
