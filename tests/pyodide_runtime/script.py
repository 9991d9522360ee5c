"""One scripted sequence that covers every Worker route and the cron, as data.

Each `Step` is one request; the differential test sends it to the CPython host and to the Worker
under Pyodide and expects the same status and JSON. To cover a new route, add steps here: the test
fails while any route of `connect_worker.app.ROUTES` has no step. `Ref("name")` in a body or path
stands for a value captured from an earlier response of the *same* host (`capture`), e.g. a random
claim id; captured fields are masked before the two answers are compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

API = "/api/internal"
DAY = 86_400.0
MAX_SAFE = 2**53 - 1


@dataclass(frozen=True)
class Ref:
    """A value captured earlier from this host's own answers."""

    name: str


@dataclass(frozen=True)
class Step:
    name: str
    method: str
    path: str
    body: Any = None
    raw: bytes | None = None
    key: str | None = "api"  # "api": the valid key; "wrong": a wrong one; None: no key
    capture: Mapping[str, str] = field(default_factory=dict)  # ref name -> top-level JSON field
    advance: float = 0.0  # seconds both clocks move forward before the step


@dataclass(frozen=True)
class Cron:
    """The daily cron trigger (`scheduled`), after moving both clocks forward."""

    name: str
    advance: float = 0.0


OWN_CLAIM = "backend-claim-0123456789"  # a claim id the caller made (a replay is recognised)


def post(name: str, route: str, body: Any, **kw: Any) -> Step:
    return Step(name, "POST", f"{API}/{route}", body, **kw)


def get(name: str, route: str, **kw: Any) -> Step:
    return Step(name, "GET", f"{API}/{route}", **kw)


def segment(value: str) -> str:
    return quote(value, safe="")


def sequence(fx: Mapping[str, Any]) -> list[Step | Cron]:
    """The steps, given the fixture values (`tests/pyodide_runtime/test_differential.py`)."""
    org, other_org = fx["org_id"], fx["other_org_id"]
    odd_key = "clé/ünï 🌍 %2F key"
    event_payout = {
        "stripe_payout_id": "po_event_1",
        "organization_id": org,
        "stripe_account_id": "acct_1Diff",
        "amount": 4_200,
        "currency": "usd",
        "status": "in_transit",
        "arrival_date": 1_795_100_000,
        "event_created": 1_795_000_800,
    }
    transfer = {
        "organization_id": org,
        "idempotency_key": odd_key,
        "request_hash": "a" * 64,
        "gross_amount": 10_000,
        "fee_amount": 1_000,
        "net_amount": 9_000,
        "currency": "usd",
        "stripe_account_id": "acct_1Diff",
        "reason": "goodwill ünï 🌍",
        "initiated_by": "operator",
    }
    payment = {
        "payment_intent_id": "pi_1Diff",
        "organization_id": org,
        "charge_id": "ch_1Diff",
        "amount": 10_000,
        "amount_refunded": 1_000,
        "currency": "usd",
        "status": "succeeded",
        "created": 1_795_000_000,
    }
    event_payment = {
        **payment,
        "payment_intent_id": "pi_5Diff",
        "charge_id": "ch_5Diff",
        "amount_refunded": 0,
    }
    sourced = {
        "organization_id": org,
        "idempotency_key": "src-1",
        "request_hash": "f" * 64,
        "gross_amount": 4_000,
        "fee_amount": 400,
        "net_amount": 3_600,
        "currency": "usd",
        "stripe_account_id": "acct_1Diff",
        "source_transaction": "ch_1Diff",
        "payment": payment,
        "initiated_by": "member",
    }
    payout = {
        "organization_id": org,
        "idempotency_key": "payout-1",
        "request_hash": "b" * 64,
        "amount": 9_000,
        "currency": "usd",
        "stripe_account_id": "acct_1Diff",
    }
    claim = {"event_type": "account.updated", "event_created": 1_795_000_000}
    deauthorized = {
        "stripe_connect_status": "disabled",
        "onboarding_step": "rejected",
        "onboarding_rejection_reason": "The platform's access to this account was revoked.",
        "charges_enabled": False,
        "payouts_enabled": False,
    }
    snapshot_fields = {
        "stripe_connect_status": "active",
        "onboarding_step": "complete",
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
        "requirements_currently_due": ["external_account", "ünï"],
        "requirements_disabled_reason": None,
    }
    return [
        # Transport, keys, routing.
        get("health", "health"),
        get("no key", "health", key=None),
        get("wrong key", "health", key="wrong"),
        Step("unknown path", "GET", f"{API}/nope"),
        Step("wrong method", "DELETE", f"{API}/health"),
        # verify-user-context: every token form Better Auth issues, and refusals.
        post("signed token, URL-encoded", "verify-user-context", {"token": fx["signed"]}),
        post("signed token", "verify-user-context", {"token": fx["signed_decoded"]}),
        post(
            "raw token + org", "verify-user-context", {"token": fx["raw"], "organization_id": org}
        ),
        post(
            "EdDSA JWT + org", "verify-user-context", {"token": fx["jwt"], "organization_id": org}
        ),
        post("member's token", "verify-user-context", {"token": fx["bob"], "organization_id": org}),
        post(
            "not a member",
            "verify-user-context",
            {"token": fx["raw"], "organization_id": other_org},
        ),
        post("unknown org", "verify-user-context", {"token": fx["raw"], "organization_id": "nope"}),
        post("expired session", "verify-user-context", {"token": fx["expired"]}),
        post("garbage token", "verify-user-context", {"token": "x" * 40}),
        post("tampered JWT", "verify-user-context", {"token": fx["jwt"][:-4] + "AAAA"}),
        post("malformed JSON", "verify-user-context", None, raw=b"{nope"),
        post("not an object", "verify-user-context", [1, 2]),
        post("missing token", "verify-user-context", {}),
        post("unknown field", "verify-user-context", {"token": fx["raw"], "admin": True}),
        post("lone surrogate", "verify-user-context", None, raw=b'{"token": "\\ud800"}'),
        post(
            "oversized body",
            "verify-user-context",
            None,
            raw=b'{"token": "' + b"x" * 70_000 + b'"}',
        ),
        # Organizations: unicode, NULL columns, not found.
        get("organization", f"organization/{org}"),
        get("unicode organization with NULL columns", f"organization/{other_org}"),
        get("unknown organization", "organization/nope"),
        get("SQL-looking id", f"organization/{segment(chr(39) + ' OR 1=1 --')}"),
        post(
            "create account",
            "create-connect-account",
            {"organization_id": org, "stripe_account_id": "acct_1Diff"},
        ),
        post(
            "create account again",
            "create-connect-account",
            {"organization_id": org, "stripe_account_id": "acct_1Diff"},
        ),
        post(
            "other account for the org",
            "create-connect-account",
            {"organization_id": org, "stripe_account_id": "acct_1Other"},
        ),
        post(
            "account of another org",
            "create-connect-account",
            {"organization_id": other_org, "stripe_account_id": "acct_1Diff"},
        ),
        post(
            "create custom account, unicode org",
            "create-connect-account",
            {
                "organization_id": other_org,
                "stripe_account_id": "acct_1Custom",
                "account_profile": "custom",
            },
        ),
        post(
            "create account, unknown profile",
            "create-connect-account",
            {"organization_id": org, "stripe_account_id": "acct_1Y", "account_profile": "full"},
        ),
        post(
            "create account, unknown org",
            "create-connect-account",
            {"organization_id": "nope", "stripe_account_id": "acct_1X"},
        ),
        post(
            "create account, bad id",
            "create-connect-account",
            {"organization_id": org, "stripe_account_id": "cus_1"},
        ),
        get("by account", "organization-by-account/acct_1Diff"),
        get("by unknown account", "organization-by-account/acct_1None"),
        post(
            "update",
            "update-organization",
            {
                "organization_id": org,
                "synced_at": 1_795_000_100.25,
                "fields": {
                    "stripe_connect_status": "active",
                    "onboarding_step": "complete",
                    "charges_enabled": True,
                    "payouts_enabled": True,
                    "details_submitted": True,
                    "requirements_currently_due": ["ünï", "b"],
                    "requirements_past_due": [],
                    "requirements_disabled_reason": None,
                    "onboarding_rejection_reason": None,
                },
            },
        ),
        post(
            "stale update refused",
            "update-organization",
            {
                "organization_id": org,
                "synced_at": 1_795_000_000,
                "fields": {"stripe_connect_status": "pending"},
            },
        ),
        post(
            "update without watermark",
            "update-organization",
            {
                "organization_id": org,
                "fields": {"requirements_disabled_reason": "requirements.past_due 🌍"},
            },
        ),
        post(
            "update payout schedule",
            "update-organization",
            {
                "organization_id": org,
                "fields": {
                    "payout_schedule_interval": "weekly",
                    "payout_schedule_delay_days": 7,
                    "payout_schedule_weekly_anchor": "friday",
                    "payout_schedule_monthly_anchor": None,
                },
            },
        ),
        post(
            "update, bad payout interval",
            "update-organization",
            {"organization_id": org, "fields": {"payout_schedule_interval": "hourly"}},
        ),
        post(
            "update, column not allowed",
            "update-organization",
            {"organization_id": org, "fields": {"name": "x"}},
        ),
        post(
            "update, bad enum",
            "update-organization",
            {"organization_id": org, "fields": {"stripe_connect_status": "x"}},
        ),
        post(
            "update, synced_at 2^53",
            "update-organization",
            {"organization_id": org, "synced_at": 2**53, "fields": {"charges_enabled": False}},
        ),
        post(
            "update, unknown org",
            "update-organization",
            {"organization_id": "nope", "fields": {"charges_enabled": False}},
        ),
        post(
            "update, current deadline",
            "update-organization",
            {"organization_id": org, "fields": {"requirements_current_deadline": 1_795_600_000}},
        ),
        get("organization with a deadline", f"organization/{org}"),
        post(
            "update, deadline at max safe",
            "update-organization",
            {"organization_id": other_org, "fields": {"requirements_current_deadline": MAX_SAFE}},
        ),
        post(
            "update, deadline NULL",
            "update-organization",
            {"organization_id": other_org, "fields": {"requirements_current_deadline": None}},
        ),
        post(
            "update, deadline 2^53",
            "update-organization",
            {"organization_id": org, "fields": {"requirements_current_deadline": 2**53}},
        ),
        post(
            "update, deadline negative",
            "update-organization",
            {"organization_id": org, "fields": {"requirements_current_deadline": -1}},
        ),
        post(
            "update, deadline as text",
            "update-organization",
            {"organization_id": org, "fields": {"requirements_current_deadline": "soon"}},
        ),
        post(
            "update, deadline fractional",
            "update-organization",
            {"organization_id": org, "fields": {"requirements_current_deadline": 1.5}},
        ),
        post("auto-transfer on", "set-auto-transfer", {"organization_id": org, "enabled": True}),
        post(
            "auto-transfer on, unicode org",
            "set-auto-transfer",
            {"organization_id": other_org, "enabled": True},
        ),
        post(
            "auto-transfer off",
            "set-auto-transfer",
            {"organization_id": other_org, "enabled": False},
        ),
        post(
            "auto-transfer, unknown org",
            "set-auto-transfer",
            {"organization_id": "nope", "enabled": True},
        ),
        post(
            "auto-transfer, enabled as 1",
            "set-auto-transfer",
            {"organization_id": org, "enabled": 1},
        ),
        post(
            "auto-transfer, enabled as text",
            "set-auto-transfer",
            {"organization_id": org, "enabled": "true"},
        ),
        post(
            "auto-transfer, enabled NULL",
            "set-auto-transfer",
            {"organization_id": org, "enabled": None},
        ),
        post(
            "auto-transfer, org id a number",
            "set-auto-transfer",
            {"organization_id": 7, "enabled": True},
        ),
        post("auto-transfer, missing enabled", "set-auto-transfer", {"organization_id": org}),
        post(
            "auto-transfer, unknown field",
            "set-auto-transfer",
            {"organization_id": org, "enabled": True, "all": True},
        ),
        post(
            "platform fee",
            "set-platform-fee",
            {"organization_id": org, "platform_fee_percent": 12.5, "platform_fee_fixed": 30},
        ),
        post(
            "platform fee, whole number",
            "set-platform-fee",
            {"organization_id": org, "platform_fee_percent": 10},
        ),
        post(
            "platform fee out of bounds",
            "set-platform-fee",
            {"organization_id": org, "platform_fee_percent": 75},
        ),
        post(
            "platform fee, three decimals",
            "set-platform-fee",
            {"organization_id": org, "platform_fee_percent": 1.125},
        ),
        post(
            "platform fee, unknown org",
            "set-platform-fee",
            {"organization_id": "nope", "platform_fee_percent": 5},
        ),
        # Webhook claim/complete.
        post(
            "claim",
            "webhook-events/claim",
            {"event_id": "evt_1", "stripe_account_id": "acct_1Diff", **claim},
            capture={"claim1": "claim_id"},
        ),
        post(
            "claim held",
            "webhook-events/claim",
            {"event_id": "evt_1", "stripe_account_id": "acct_1Diff", **claim},
        ),
        post(
            "claim with the caller's own claim id",
            "webhook-events/claim",
            {"event_id": "evt_own", "stripe_account_id": None, "claim_id": OWN_CLAIM, **claim},
        ),
        post(
            "the same claim sent again: answered as granted",
            "webhook-events/claim",
            {"event_id": "evt_own", "stripe_account_id": None, "claim_id": OWN_CLAIM, **claim},
        ),
        post(
            "claim with a malformed claim id",
            "webhook-events/claim",
            {"event_id": "evt_own2", "stripe_account_id": None, "claim_id": "../x", **claim},
        ),
        post(
            "complete, lost claim",
            "webhook-events/complete",
            {"event_id": "evt_1", "claim_id": "not-mine", "outcome": "processed"},
        ),
        post(
            "complete",
            "webhook-events/complete",
            {"event_id": "evt_1", "claim_id": Ref("claim1"), "outcome": "processed"},
        ),
        post(
            "claim processed",
            "webhook-events/claim",
            {"event_id": "evt_1", "stripe_account_id": None, **claim},
        ),
        post(
            "claim, NULL account",
            "webhook-events/claim",
            {"event_id": "evt_2", "stripe_account_id": None, **claim},
            capture={"claim2": "claim_id"},
        ),
        post(
            "fail",
            "webhook-events/complete",
            {
                "event_id": "evt_2",
                "claim_id": Ref("claim2"),
                "outcome": "failed",
                "error": "Stripe 503 ünï",
            },
        ),
        post(
            "reclaim failed",
            "webhook-events/claim",
            {"event_id": "evt_2", "stripe_account_id": None, **claim},
            capture={"claim3": "claim_id"},
        ),
        post(
            "claim, lease then expiry",
            "webhook-events/claim",
            {"event_id": "evt_3", "stripe_account_id": None, "lease_seconds": 5, **claim},
            capture={"claim6": "claim_id"},
        ),
        post(
            "claim after lease expired",
            "webhook-events/claim",
            {"event_id": "evt_3", "stripe_account_id": None, **claim},
            advance=10,
            capture={"claim4": "claim_id"},
        ),
        post(
            "claim, event_created at max safe",
            "webhook-events/claim",
            {
                "event_id": "evt_4",
                "stripe_account_id": None,
                "event_type": "x",
                "event_created": MAX_SAFE,
            },
            capture={"claim5": "claim_id"},
        ),
        post(
            "claim, event_created 2^53",
            "webhook-events/claim",
            {
                "event_id": "evt_5",
                "stripe_account_id": None,
                "event_type": "x",
                "event_created": 2**53,
            },
        ),
        post(
            "claim, event_created 2^64",
            "webhook-events/claim",
            {
                "event_id": "evt_6",
                "stripe_account_id": None,
                "event_type": "x",
                "event_created": 2**64,
            },
        ),
        post(
            "claim, to reject",
            "webhook-events/claim",
            {"event_id": "evt_7", "stripe_account_id": "acct_1Diff", **claim},
            capture={"claim7": "claim_id"},
        ),
        post(
            "complete as rejected",
            "webhook-events/complete",
            {
                "event_id": "evt_7",
                "claim_id": Ref("claim7"),
                "outcome": "rejected",
                "error": "stripe_id_conflict: acct_1Diff ünï",
            },
        ),
        post(
            "complete as rejected again",
            "webhook-events/complete",
            {"event_id": "evt_7", "claim_id": Ref("claim7"), "outcome": "rejected"},
        ),
        post(
            "rejected then processed",
            "webhook-events/complete",
            {"event_id": "evt_7", "claim_id": Ref("claim7"), "outcome": "processed"},
        ),
        post(
            "claim rejected",
            "webhook-events/claim",
            {"event_id": "evt_7", "stripe_account_id": "acct_1Diff", **claim},
        ),
        post(
            "complete, unknown outcome",
            "webhook-events/complete",
            {"event_id": "evt_7", "claim_id": Ref("claim7"), "outcome": "ignored"},
        ),
        # An account snapshot applied with the claim's completion (the claim returns the org).
        post(
            "claim with its organization",
            "webhook-events/claim",
            {"event_id": "evt_8", "stripe_account_id": "acct_1Diff", **claim},
            capture={"claim8": "claim_id"},
        ),
        post(
            "apply snapshot",
            "webhook-events/apply-organization",
            {
                "event_id": "evt_8",
                "claim_id": Ref("claim8"),
                "organization_id": org,
                "fields": snapshot_fields,
                "event_created": 1_795_000_000,
            },
        ),
        post(
            "apply snapshot sent again (its answer lost): answered as completed",
            "webhook-events/apply-organization",
            {
                "event_id": "evt_8",
                "claim_id": Ref("claim8"),
                "organization_id": org,
                "fields": snapshot_fields,
                "event_created": 1_795_000_000,
            },
        ),
        post(
            "claim same second",
            "webhook-events/claim",
            {"event_id": "evt_9", "stripe_account_id": "acct_1Diff", **claim},
            capture={"claim9": "claim_id"},
        ),
        post(
            "apply same second, other state",
            "webhook-events/apply-organization",
            {
                "event_id": "evt_9",
                "claim_id": Ref("claim9"),
                "organization_id": org,
                "fields": {**snapshot_fields, "charges_enabled": False},
                "event_created": 1_795_000_000,
            },
        ),
        post(
            "apply, lost claim",
            "webhook-events/apply-organization",
            {
                "event_id": "evt_9",
                "claim_id": "not-mine",
                "organization_id": org,
                "fields": snapshot_fields,
                "event_created": 1_795_000_000,
            },
        ),
        post(
            "apply, column outside the allow-list",
            "webhook-events/apply-organization",
            {
                "event_id": "evt_9",
                "claim_id": Ref("claim9"),
                "organization_id": org,
                "fields": {"name": "x"},
                "event_created": 1_795_000_000,
            },
        ),
        # The claim carrying the snapshot: applied and completed in the claim's own batch.
        post(
            "claim with a newer snapshot",
            "webhook-events/claim",
            {
                "event_id": "evt_12",
                "stripe_account_id": "acct_1Diff",
                **claim,
                "event_created": 1_795_000_500,
                "snapshot": snapshot_fields,
            },
            capture={"claim12": "claim_id"},
        ),
        post(
            "claim with a same-second snapshot of another state",
            "webhook-events/claim",
            {
                "event_id": "evt_13",
                "stripe_account_id": "acct_1Diff",
                **claim,
                "event_created": 1_795_000_500,
                "snapshot": {**snapshot_fields, "charges_enabled": False},
            },
            capture={"claim13": "claim_id"},
        ),
        post(
            "claim again with a snapshot (refused, writes nothing)",
            "webhook-events/claim",
            {
                "event_id": "evt_12",
                "stripe_account_id": "acct_1Diff",
                **claim,
                "event_created": 1_795_000_900,
                "snapshot": {**snapshot_fields, "payouts_enabled": False},
            },
        ),
        post(
            "claim, snapshot outside the allow-list",
            "webhook-events/claim",
            {
                "event_id": "evt_14",
                "stripe_account_id": "acct_1Diff",
                **claim,
                "snapshot": {"name": "x"},
            },
        ),
        # A payout event's effect with the claim's completion (one batch).
        post(
            "claim a payout event",
            "webhook-events/claim",
            {"event_id": "evt_10", "stripe_account_id": "acct_1Diff", **claim},
            capture={"claim10": "claim_id"},
        ),
        post(
            "apply payout",
            "webhook-events/apply-payout",
            {"event_id": "evt_10", "claim_id": Ref("claim10"), **event_payout},
        ),
        post(
            "apply payout again (a retried call)",
            "webhook-events/apply-payout",
            {"event_id": "evt_10", "claim_id": Ref("claim10"), **event_payout},
        ),
        post(
            "apply payout, lost claim",
            "webhook-events/apply-payout",
            {"event_id": "evt_10", "claim_id": "not-mine", **event_payout},
        ),
        post(
            "claim another payout event",
            "webhook-events/claim",
            {"event_id": "evt_11", "stripe_account_id": "acct_1Diff", **claim},
            capture={"claim11": "claim_id"},
        ),
        post(
            "apply payout of another org",
            "webhook-events/apply-payout",
            {
                "event_id": "evt_11",
                "claim_id": Ref("claim11"),
                **event_payout,
                "organization_id": other_org,
                "event_created": 1_795_000_900,
            },
        ),
        post(
            "apply payout, unknown status",
            "webhook-events/apply-payout",
            {"event_id": "evt_11", "claim_id": Ref("claim11"), **event_payout, "status": "lost"},
        ),
        # Transfers.
        post("reserve transfer", "transfers/reserve", transfer),
        post("reserve transfer again", "transfers/reserve", transfer),
        post("key reused", "transfers/reserve", {**transfer, "request_hash": "c" * 64}),
        post(
            "fee mismatch",
            "transfers/reserve",
            {**transfer, "idempotency_key": "k2", "fee_amount": 1},
        ),
        post(
            "amount 2^53",
            "transfers/reserve",
            {
                **transfer,
                "idempotency_key": "k3",
                "gross_amount": 2**53,
                "net_amount": 2**53 - 1000,
            },
        ),
        post("reserve, unknown org", "transfers/reserve", {**transfer, "organization_id": "nope"}),
        get("transfer by odd key", f"transfers/{org}/{segment(odd_key)}"),
        get("unknown transfer", f"transfers/{org}/nope"),
        post(
            "complete transfer",
            "transfers/complete",
            {
                "organization_id": org,
                "idempotency_key": odd_key,
                "status": "succeeded",
                "stripe_transfer_id": "tr_1",
            },
        ),
        post(
            "complete again",
            "transfers/complete",
            {
                "organization_id": org,
                "idempotency_key": odd_key,
                "status": "failed",
                "failure_message": "late",
            },
        ),
        post(
            "complete unknown",
            "transfers/complete",
            {"organization_id": org, "idempotency_key": "nope", "status": "failed"},
        ),
        post(
            "second transfer",
            "transfers/reserve",
            {**transfer, "idempotency_key": "k4", "request_hash": "d" * 64},
        ),
        post(
            "sync adopts",
            "transfers/sync",
            {
                "stripe_transfer_id": "tr_2",
                "amount_reversed": 0,
                "reversed": False,
                "organization_id": org,
                "idempotency_key": "k4",
                "amount": 9_000,
                "currency": "usd",
                "destination": "acct_1Diff",
            },
        ),
        post(
            "sync reversal",
            "transfers/sync",
            {"stripe_transfer_id": "tr_1", "amount_reversed": 500, "reversed": False},
        ),
        post(
            "sync older reversal",
            "transfers/sync",
            {"stripe_transfer_id": "tr_1", "amount_reversed": 100, "reversed": False},
        ),
        post(
            "sync full reversal",
            "transfers/sync",
            {"stripe_transfer_id": "tr_2", "amount_reversed": 9_000, "reversed": True},
        ),
        post(
            "sync mismatch",
            "transfers/sync",
            {
                "stripe_transfer_id": "tr_3",
                "amount_reversed": 0,
                "reversed": False,
                "organization_id": org,
                "idempotency_key": "k4",
                "amount": 1,
                "currency": "usd",
                "destination": "acct_1Diff",
            },
        ),
        post(
            "sync unknown",
            "transfers/sync",
            {"stripe_transfer_id": "tr_9", "amount_reversed": 0, "reversed": False},
        ),
        post(
            "sync partial metadata",
            "transfers/sync",
            {
                "stripe_transfer_id": "tr_9",
                "amount_reversed": 0,
                "reversed": False,
                "organization_id": org,
            },
        ),
        # A transfer event's effect with the claim's completion (one batch).
        post(
            "claim a transfer event",
            "webhook-events/claim",
            {"event_id": "evt_20", "stripe_account_id": None, **claim},
            capture={"claim20": "claim_id"},
        ),
        post(
            "apply transfer, lost claim (writes nothing)",
            "webhook-events/apply-transfer",
            {
                "event_id": "evt_20",
                "claim_id": "not-mine",
                "stripe_transfer_id": "tr_1",
                "amount_reversed": 9_000,
                "reversed": True,
            },
        ),
        post(
            "apply transfer",
            "webhook-events/apply-transfer",
            {
                "event_id": "evt_20",
                "claim_id": Ref("claim20"),
                "stripe_transfer_id": "tr_1",
                "amount_reversed": 700,
                "reversed": False,
            },
        ),
        post(
            "apply transfer again (a retried call)",
            "webhook-events/apply-transfer",
            {
                "event_id": "evt_20",
                "claim_id": Ref("claim20"),
                "stripe_transfer_id": "tr_1",
                "amount_reversed": 700,
                "reversed": False,
            },
        ),
        post(
            "claim a transfer event for a mismatching row",
            "webhook-events/claim",
            {"event_id": "evt_21", "stripe_account_id": None, **claim},
            capture={"claim21": "claim_id"},
        ),
        post(
            "apply transfer, mismatch (completes)",
            "webhook-events/apply-transfer",
            {
                "event_id": "evt_21",
                "claim_id": Ref("claim21"),
                "stripe_transfer_id": "tr_3",
                "amount_reversed": 0,
                "reversed": False,
                "organization_id": org,
                "idempotency_key": "k4",
                "amount": 1,
                "currency": "usd",
                "destination": "acct_1Diff",
            },
        ),
        post(
            "claim the mismatched event again (processed)",
            "webhook-events/claim",
            {"event_id": "evt_21", "stripe_account_id": None, **claim},
        ),
        post(
            "claim a transfer event not in the ledger",
            "webhook-events/claim",
            {"event_id": "evt_22", "stripe_account_id": None, **claim},
            capture={"claim22": "claim_id"},
        ),
        post(
            "apply transfer, bad field",
            "webhook-events/apply-transfer",
            {
                "event_id": "evt_22",
                "claim_id": Ref("claim22"),
                "stripe_transfer_id": "tr_9",
                "amount_reversed": -1,
                "reversed": False,
            },
        ),
        post(
            "apply transfer, not in the ledger (completes)",
            "webhook-events/apply-transfer",
            {
                "event_id": "evt_22",
                "claim_id": Ref("claim22"),
                "stripe_transfer_id": "tr_9",
                "amount_reversed": 0,
                "reversed": False,
            },
        ),
        post(
            "claim the event not in the ledger again (processed)",
            "webhook-events/claim",
            {"event_id": "evt_22", "stripe_account_id": None, **claim},
        ),
        # A deauthorization's organization update with the claim's completion (one batch).
        post(
            "claim a deauthorization event",
            "webhook-events/claim",
            {"event_id": "evt_23", "stripe_account_id": "acct_1Diff", **claim},
            capture={"claim23": "claim_id"},
        ),
        post(
            "update organization, lost claim (writes nothing)",
            "webhook-events/update-organization",
            {
                "event_id": "evt_23",
                "claim_id": "not-mine",
                "organization_id": org,
                "fields": deauthorized,
                "synced_at": 1_799_000_000.999,
            },
        ),
        post(
            "update organization, unknown org (claim held)",
            "webhook-events/update-organization",
            {
                "event_id": "evt_23",
                "claim_id": Ref("claim23"),
                "organization_id": "nope",
                "fields": deauthorized,
                "synced_at": 1_799_000_000.999,
            },
        ),
        post(
            "update organization, outside the allow-list",
            "webhook-events/update-organization",
            {
                "event_id": "evt_23",
                "claim_id": Ref("claim23"),
                "organization_id": org,
                "fields": {"name": "x"},
            },
        ),
        post(
            "update organization with the claim",
            "webhook-events/update-organization",
            {
                "event_id": "evt_23",
                "claim_id": Ref("claim23"),
                "organization_id": org,
                "fields": deauthorized,
                "synced_at": 1_799_000_000.999,
            },
        ),
        post(
            "update organization again (a retried call)",
            "webhook-events/update-organization",
            {
                "event_id": "evt_23",
                "claim_id": Ref("claim23"),
                "organization_id": org,
                "fields": deauthorized,
                "synced_at": 1_799_000_000.999,
            },
        ),
        # A payment event's record with the claim's completion (one batch), or held for the
        # automatic transfer of an organization that transfers automatically (`org` does).
        post(
            "claim a payment event",
            "webhook-events/claim",
            {"event_id": "evt_24", "stripe_account_id": None, **claim},
            capture={"claim24": "claim_id"},
        ),
        post(
            "apply payment, lost claim (writes nothing)",
            "webhook-events/apply-payment",
            {"event_id": "evt_24", "claim_id": "not-mine", **event_payment},
        ),
        post(
            "apply payment, refund over amount",
            "webhook-events/apply-payment",
            {
                "event_id": "evt_24",
                "claim_id": Ref("claim24"),
                **event_payment,
                "amount_refunded": 10_001,
            },
        ),
        post(
            "apply payment held for the automatic transfer",
            "webhook-events/apply-payment",
            {
                "event_id": "evt_24",
                "claim_id": Ref("claim24"),
                "hold_if_auto_transfer": True,
                **event_payment,
            },
        ),
        post(
            "complete the held payment event",
            "webhook-events/complete",
            {"event_id": "evt_24", "claim_id": Ref("claim24"), "outcome": "processed"},
        ),
        post(
            "claim a payment event of an org without automatic transfers",
            "webhook-events/claim",
            {"event_id": "evt_25", "stripe_account_id": None, **claim},
            capture={"claim25": "claim_id"},
        ),
        post(
            "apply payment, completed in the call",
            "webhook-events/apply-payment",
            {
                "event_id": "evt_25",
                "claim_id": Ref("claim25"),
                "hold_if_auto_transfer": True,
                **event_payment,
                "payment_intent_id": "pi_6Diff",
                "charge_id": "ch_6Diff",
                "organization_id": other_org,
            },
        ),
        post(
            "claim a payment event recorded for another org",
            "webhook-events/claim",
            {"event_id": "evt_26", "stripe_account_id": None, **claim},
            capture={"claim26": "claim_id"},
        ),
        post(
            "apply payment, conflict (completes)",
            "webhook-events/apply-payment",
            {
                "event_id": "evt_26",
                "claim_id": Ref("claim26"),
                **event_payment,
                "organization_id": other_org,
            },
        ),
        post(
            "claim a payment event of an unknown org",
            "webhook-events/claim",
            {"event_id": "evt_27", "stripe_account_id": None, **claim},
            capture={"claim27": "claim_id"},
        ),
        post(
            "apply payment, unknown org (completes)",
            "webhook-events/apply-payment",
            {
                "event_id": "evt_27",
                "claim_id": Ref("claim27"),
                **event_payment,
                "organization_id": "nope",
            },
        ),
        post(
            "claim the unknown org's payment event again (processed)",
            "webhook-events/claim",
            {"event_id": "evt_27", "stripe_account_id": None, **claim},
        ),
        # Payments, and transfers reserved against one.
        post("record payment", "payments/record", payment),
        post("record payment again", "payments/record", payment),
        post(
            "record older refund",
            "payments/record",
            {**payment, "amount_refunded": 0, "status": "succeeded"},
        ),
        post(
            "record payment for another org",
            "payments/record",
            {**payment, "organization_id": other_org},
        ),
        post("record other amount", "payments/record", {**payment, "amount": 10_001}),
        post("record other currency", "payments/record", {**payment, "currency": "eur"}),
        post(
            "record, refund over amount",
            "payments/record",
            {**payment, "amount_refunded": 10_001},
        ),
        post(
            "record, not a payment id", "payments/record", {**payment, "payment_intent_id": "ch_1"}
        ),
        post("record, amount 2^53", "payments/record", {**payment, "amount": 2**53}),
        post("record, unknown field", "payments/record", {**payment, "fee": 1}),
        post("record, not an object", "payments/record", [payment]),
        post(
            "charge recorded for another payment",
            "payments/record",
            {**payment, "payment_intent_id": "pi_2Diff"},
        ),
        post(
            "record payment without a charge",
            "payments/record",
            {
                **payment,
                "payment_intent_id": "pi_3Diff",
                "charge_id": None,
                "status": "processing",
                "created": 1_795_000_500,
            },
        ),
        post(
            "record payment not succeeded",
            "payments/record",
            {
                **payment,
                "payment_intent_id": "pi_4Diff",
                "charge_id": "ch_4Diff",
                "status": "requires_capture",
                "amount_refunded": 0,
                "created": MAX_SAFE,
            },
        ),
        get("untransferred", f"payments/{org}/untransferred"),
        get("untransferred, unicode org", f"payments/{segment(other_org)}/untransferred"),
        get("untransferred, unknown org", "payments/nope/untransferred"),
        Step("untransferred, wrong method", "POST", f"{API}/payments/{org}/untransferred", {}),
        post("reserve from payment", "transfers/reserve", sourced),
        post("reserve from payment again", "transfers/reserve", sourced),
        post(
            "reserve more than is left",
            "transfers/reserve",
            {
                **sourced,
                "idempotency_key": "src-2",
                "gross_amount": 6_000,
                "fee_amount": 600,
                "net_amount": 5_400,
            },
        ),
        post(
            "second reservation",
            "transfers/reserve",
            {
                **sourced,
                "idempotency_key": "src-2",
                "gross_amount": 2_000,
                "fee_amount": 200,
                "net_amount": 1_800,
            },
        ),
        get("untransferred after two", f"payments/{org}/untransferred"),
        post(
            "reserve the remainder",
            "transfers/reserve",
            {
                **sourced,
                "idempotency_key": "src-3",
                "gross_amount": 3_000,
                "fee_amount": 0,
                "net_amount": 3_000,
            },
        ),
        get("untransferred, exhausted", f"payments/{org}/untransferred"),
        post(
            "reserve from exhausted payment",
            "transfers/reserve",
            {
                **sourced,
                "idempotency_key": "src-4",
                "gross_amount": 1,
                "fee_amount": 0,
                "net_amount": 1,
            },
        ),
        post(
            "reserve another org's payment",
            "transfers/reserve",
            {
                **sourced,
                "organization_id": other_org,
                "idempotency_key": "src-5",
                "payment": {**payment, "organization_id": other_org},
            },
        ),
        post(
            "reserve in another currency",
            "transfers/reserve",
            {
                **sourced,
                "idempotency_key": "src-6",
                "currency": "eur",
                "payment": {**payment, "currency": "eur"},
            },
        ),
        post(
            "reserve from payment not succeeded",
            "transfers/reserve",
            {
                **sourced,
                "idempotency_key": "src-7",
                "source_transaction": "ch_4Diff",
                "payment": {
                    **payment,
                    "payment_intent_id": "pi_4Diff",
                    "charge_id": "ch_4Diff",
                    "status": "requires_capture",
                    "amount_refunded": 0,
                    "created": MAX_SAFE,
                },
            },
        ),
        post(
            "reserve, payment of another charge",
            "transfers/reserve",
            {**sourced, "idempotency_key": "src-8", "source_transaction": "ch_1Other"},
        ),
        post(
            "reserve, source without payment",
            "transfers/reserve",
            {**sourced, "idempotency_key": "src-9", "payment": None},
        ),
        post(
            "reserve, neither source nor reason",
            "transfers/reserve",
            {**transfer, "idempotency_key": "src-10", "reason": None},
        ),
        post(
            "reserve from payment, unknown org",
            "transfers/reserve",
            {**sourced, "organization_id": "nope", "idempotency_key": "src-11"},
        ),
        post(
            "Stripe transfer held by another row",
            "transfers/complete",
            {
                "organization_id": org,
                "idempotency_key": "src-1",
                "status": "succeeded",
                "stripe_transfer_id": "tr_1",
            },
        ),
        get("row unchanged by the conflict", f"transfers/{org}/src-1"),
        post(
            "complete from payment",
            "transfers/complete",
            {
                "organization_id": org,
                "idempotency_key": "src-1",
                "status": "succeeded",
                "stripe_transfer_id": "tr_4",
            },
        ),
        post(
            "fail the remainder",
            "transfers/complete",
            {
                "organization_id": org,
                "idempotency_key": "src-3",
                "status": "failed",
                "failure_message": "account closed 🌍",
            },
        ),
        get("untransferred after a failure", f"payments/{org}/untransferred"),
        post(
            "payout recorded for the org",
            "payouts/upsert",
            {
                "stripe_payout_id": "po_9",
                "organization_id": org,
                "stripe_account_id": "acct_1Diff",
                "amount": 1,
                "currency": "usd",
                "status": "pending",
                "event_created": 1_795_000_000,
            },
        ),
        post(
            "same payout for another org",
            "payouts/upsert",
            {
                "stripe_payout_id": "po_9",
                "organization_id": other_org,
                "stripe_account_id": "acct_1Diff",
                "amount": 1,
                "currency": "usd",
                "status": "paid",
                "event_created": 1_795_000_001,
            },
        ),
        # Payouts.
        post("reserve payout", "payouts/reserve", payout),
        post("reserve payout again", "payouts/reserve", payout),
        post("payout key reused", "payouts/reserve", {**payout, "request_hash": "e" * 64}),
        post("payout, unknown org", "payouts/reserve", {**payout, "organization_id": "nope"}),
        get("payout", f"payouts/{org}/payout-1"),
        get("unknown payout", f"payouts/{org}/nope"),
        post("reserve payout 2", "payouts/reserve", {**payout, "idempotency_key": "payout-2"}),
        post(
            "refuse payout",
            "payouts/refuse",
            {
                "organization_id": org,
                "idempotency_key": "payout-2",
                "failure_code": None,
                "failure_message": "insufficient ünï",
            },
        ),
        post(
            "refuse unknown", "payouts/refuse", {"organization_id": org, "idempotency_key": "nope"}
        ),
        post(
            "upsert onto reservation",
            "payouts/upsert",
            {
                "stripe_payout_id": "po_1",
                "organization_id": org,
                "stripe_account_id": "acct_1Diff",
                "amount": 9_000,
                "currency": "usd",
                "status": "pending",
                "failure_code": None,
                "failure_message": None,
                "arrival_date": None,
                "event_created": 1_795_000_100,
                "idempotency_key": "payout-1",
            },
        ),
        post(
            "upsert paid",
            "payouts/upsert",
            {
                "stripe_payout_id": "po_1",
                "organization_id": org,
                "stripe_account_id": "acct_1Diff",
                "amount": 9_000,
                "currency": "usd",
                "status": "paid",
                "arrival_date": 1_795_100_000,
                "event_created": 1_795_000_200,
            },
        ),
        post(
            "upsert older event",
            "payouts/upsert",
            {
                "stripe_payout_id": "po_1",
                "organization_id": org,
                "stripe_account_id": "acct_1Diff",
                "amount": 9_000,
                "currency": "usd",
                "status": "in_transit",
                "event_created": 1_795_000_150,
            },
        ),
        post(
            "upsert new payout",
            "payouts/upsert",
            {
                "stripe_payout_id": "po_2",
                "organization_id": org,
                "stripe_account_id": "acct_1Diff",
                "amount": 1,
                "currency": "jpy",
                "status": "failed",
                "failure_code": "account_closed",
                "failure_message": "closed 🌍",
                "event_created": 1_795_000_300,
            },
        ),
        post(
            "upsert, arrival_date 2^53",
            "payouts/upsert",
            {
                "stripe_payout_id": "po_3",
                "organization_id": org,
                "stripe_account_id": "acct_1Diff",
                "amount": 1,
                "currency": "usd",
                "status": "paid",
                "arrival_date": 2**53,
                "event_created": 1,
            },
        ),
        # History pages, newest first.
        post("payout history page 1", "history/payouts", {"organization_id": org, "limit": 2}),
        post(
            "payout history page 2",
            "history/payouts",
            {"organization_id": org, "limit": 2, "before_id": 3},
        ),
        post("transfer history", "history/transfers", {"organization_id": org, "limit": 100}),
        post("history, limit too big", "history/transfers", {"organization_id": org, "limit": 101}),
        post("history, unknown org", "history/payouts", {"organization_id": "nope", "limit": 5}),
        # Reconciliation: what is unsettled, whose events to replay, and the checkpoints.
        get("unsettled rows", "reconciliation/unsettled"),
        get("connected accounts", "reconciliation/accounts"),
        get("no checkpoints", "reconciliation/checkpoints"),
        post(
            "checkpoint platform",
            "reconciliation/checkpoints",
            {"scope": "platform", "event_created": 1_795_000_000, "event_id": "evt_1"},
        ),
        post(
            "checkpoint never moves back",
            "reconciliation/checkpoints",
            {"scope": "platform", "event_created": 1_794_000_000, "event_id": "evt_0"},
        ),
        post(
            "checkpoint account",
            "reconciliation/checkpoints",
            {"scope": "acct_1Diff", "event_created": MAX_SAFE, "event_id": "evt_ünï"},
        ),
        post(
            "checkpoint, bad scope",
            "reconciliation/checkpoints",
            {"scope": "acct_ü", "event_created": 1, "event_id": "evt_1"},
        ),
        get("checkpoints", "reconciliation/checkpoints"),
        # Retention: the explicit route, then the cron after a year and more.
        post("prune, nothing old", "ledgers/prune", {}),
        post("prune, bad days", "ledgers/prune", {"webhook_event_retention_days": 1}),
        post(
            "prune after 31 days",
            "ledgers/prune",
            {"webhook_event_retention_days": 30},
            advance=31 * DAY,
        ),
        Cron("cron after 401 more days", advance=401 * DAY),
        get("transfer pruned", f"transfers/{org}/{segment(odd_key)}"),
        get("reversed transfer pruned", f"transfers/{org}/k4"),
        get("pending transfer kept", f"transfers/{org}/src-2"),
        get("payments kept", f"payments/{org}/untransferred"),
        get("payout pruned", f"payouts/{org}/payout-1"),
    ]
