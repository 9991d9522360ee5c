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
    transfer = {
        "organization_id": org,
        "idempotency_key": odd_key,
        "request_hash": "a" * 64,
        "gross_amount": 10_000,
        "fee_amount": 1_000,
        "net_amount": 9_000,
        "currency": "usd",
        "stripe_account_id": "acct_1Diff",
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
        get("pending transfer kept", f"transfers/{org}/k4"),
        get("payout pruned", f"payouts/{org}/payout-1"),
    ]
