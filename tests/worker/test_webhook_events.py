from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from tests.worker.conftest import Core, make_core


def claim_body(event_id: str = "evt_1", **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": "account.updated",
        "event_created": 1795794424,
        "stripe_account_id": "acct_123",
        **extra,
    }


async def test_first_claim_is_granted_and_a_second_is_refused_while_processing(
    fresh_core: Core,
) -> None:
    status, first = await fresh_core.post("webhook-events/claim", claim_body())
    assert status == 200
    assert first["claimed"] is True
    assert first["attempts"] == 1
    assert first["claim_id"]
    assert await fresh_core.post("webhook-events/claim", claim_body()) == (
        200,
        {"claimed": False, "status": "processing"},
    )


async def test_processed_events_are_never_claimed_again(fresh_core: Core) -> None:
    _, first = await fresh_core.post("webhook-events/claim", claim_body())
    done = {"event_id": "evt_1", "claim_id": first["claim_id"], "outcome": "processed"}
    assert await fresh_core.post("webhook-events/complete", done) == (200, {"status": "processed"})
    # Completing the same claim again (a retried HTTP call) is harmless.
    assert await fresh_core.post("webhook-events/complete", done) == (200, {"status": "processed"})
    fresh_core.clock.advance(3600)
    assert await fresh_core.post("webhook-events/claim", claim_body()) == (
        200,
        {"claimed": False, "status": "processed"},
    )


async def test_a_failed_event_can_be_reclaimed_and_the_old_claim_is_then_stale(
    fresh_core: Core,
) -> None:
    _, first = await fresh_core.post("webhook-events/claim", claim_body())
    failed = {
        "event_id": "evt_1",
        "claim_id": first["claim_id"],
        "outcome": "failed",
        "error": "Stripe unreachable",
    }
    assert await fresh_core.post("webhook-events/complete", failed) == (200, {"status": "failed"})
    _, second = await fresh_core.post("webhook-events/claim", claim_body())
    assert second["claimed"] is True
    assert second["attempts"] == 2
    assert second["claim_id"] != first["claim_id"]
    stale = {"event_id": "evt_1", "claim_id": first["claim_id"], "outcome": "processed"}
    status, body = await fresh_core.post("webhook-events/complete", stale)
    assert status == 409
    assert body["error"]["code"] == "claim_lost"


async def test_an_expired_lease_can_be_taken_over(fresh_core: Core) -> None:
    _, first = await fresh_core.post("webhook-events/claim", claim_body(lease_seconds=30))
    fresh_core.clock.advance(29)
    assert (await fresh_core.post("webhook-events/claim", claim_body()))[1]["claimed"] is False
    fresh_core.clock.advance(2)
    _, second = await fresh_core.post("webhook-events/claim", claim_body())
    assert second["claimed"] is True
    assert second["attempts"] == 2
    status, _ = await fresh_core.post(
        "webhook-events/complete",
        {"event_id": "evt_1", "claim_id": first["claim_id"], "outcome": "processed"},
    )
    assert status == 409


async def test_complete_for_an_unknown_event_is_409(fresh_core: Core) -> None:
    status, body = await fresh_core.post(
        "webhook-events/complete", {"event_id": "evt_x", "claim_id": "c", "outcome": "processed"}
    )
    assert status == 409
    assert body["error"]["code"] == "claim_lost"


def test_two_replicas_racing_get_exactly_one_grant(fresh_core: Core) -> None:
    """Two cores on separate connections to one file (two replicas, one D1), many events."""
    path: Path = fresh_core.db_path
    replicas = [make_core(path, fresh_core.clock) for _ in range(2)]
    events = [f"evt_race_{i}" for i in range(40)]
    grants: list[list[str]] = [[], []]
    barrier = threading.Barrier(2)

    def run(index: int) -> None:
        async def claim_all() -> None:
            for event_id in events:
                _, body = await replicas[index].post("webhook-events/claim", claim_body(event_id))
                if body["claimed"]:
                    grants[index].append(event_id)

        barrier.wait()
        asyncio.run(claim_all())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for replica in replicas:
        replica.db.close()
    assert sorted(grants[0] + grants[1]) == sorted(events)
    assert not set(grants[0]) & set(grants[1])


async def test_a_rejected_event_is_final_keeps_its_reason_and_is_pruned_like_processed(
    fresh_core: Core,
) -> None:
    _, first = await fresh_core.post("webhook-events/claim", claim_body())
    rejected = {
        "event_id": "evt_1",
        "claim_id": first["claim_id"],
        "outcome": "rejected",
        "error": "invalid data.object.amount: int_type",
    }
    assert await fresh_core.post("webhook-events/complete", rejected) == (
        200,
        {"status": "rejected"},
    )
    fresh_core.clock.advance(3600)
    assert await fresh_core.post("webhook-events/claim", claim_body()) == (
        200,
        {"claimed": False, "status": "rejected"},
    )
    row = await fresh_core.db.prepare(
        'SELECT "status", "last_error", "processed_at" FROM connect_webhook_event'
    ).first()
    assert row is not None
    assert (row["status"], row["last_error"]) == ("rejected", rejected["error"])
    assert row["processed_at"]
    fresh_core.clock.advance(40 * 86400)
    status, pruned = await fresh_core.post("ledgers/prune", {})
    assert (status, pruned["deleted"]["webhook_events"]) == (200, 1)


# --- the claim with its organization, and the snapshot applied with the claim's completion ------

ACTIVE = {
    "stripe_connect_status": "active",
    "onboarding_step": "complete",
    "charges_enabled": True,
    "payouts_enabled": True,
    "details_submitted": True,
    "requirements_currently_due": [],
}
PENDING = {**ACTIVE, "stripe_connect_status": "pending", "charges_enabled": False}
CREATED = 1795794424


async def connected_org(core: Core, account: str = "acct_123") -> str:
    from tests.worker.test_organizations import make_org

    org_id = make_org(core)
    status, _ = await core.post(
        "create-connect-account", {"organization_id": org_id, "stripe_account_id": account}
    )
    assert status == 201
    return org_id


async def claimed(core: Core, event_id: str, created: int = CREATED) -> dict[str, Any]:
    status, body = await core.post(
        "webhook-events/claim", claim_body(event_id, event_created=created)
    )
    assert status == 200
    assert body["claimed"] is True
    return body


def apply_body(
    claim: dict[str, Any], event_id: str, org_id: str, fields: dict[str, Any], synced_at: int
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "claim_id": claim["claim_id"],
        "organization_id": org_id,
        "fields": fields,
        "event_created": synced_at,
    }


async def test_a_claim_returns_the_organization_of_the_events_account_with_its_exact_watermark(
    fresh_core: Core,
) -> None:
    org_id = await connected_org(fresh_core)
    await fresh_core.post(
        "update-organization",
        {"organization_id": org_id, "fields": ACTIVE, "synced_at": CREATED + 0.25},
    )
    body = await claimed(fresh_core, "evt_1")
    assert body["organization"]["id"] == org_id
    assert body["organization"]["stripe_synced_at"] == CREATED
    assert body["watermark"] == CREATED + 0.25
    _, none = await fresh_core.post(
        "webhook-events/claim", claim_body("evt_2", stripe_account_id="acct_nobody")
    )
    assert none["organization"] is None
    assert none["watermark"] is None


async def test_applying_a_newer_snapshot_writes_it_and_completes_the_claim_in_one_call(
    fresh_core: Core,
) -> None:
    org_id = await connected_org(fresh_core)
    claim = await claimed(fresh_core, "evt_1")
    status, body = await fresh_core.post(
        "webhook-events/apply-organization", apply_body(claim, "evt_1", org_id, ACTIVE, CREATED)
    )
    assert status == 200
    assert (body["updated"], body["completed"]) == (True, True)
    assert body["watermark"] == CREATED + 0.999  # somewhere inside that second: its end
    assert body["organization"]["stripe_connect_status"] == "active"
    assert (await fresh_core.post("webhook-events/claim", claim_body("evt_1")))[1] == {
        "claimed": False,
        "status": "processed",
    }


async def test_an_older_snapshot_is_not_written_but_its_claim_completes(fresh_core: Core) -> None:
    org_id = await connected_org(fresh_core)
    new = await claimed(fresh_core, "evt_new", CREATED + 5)
    await fresh_core.post(
        "webhook-events/apply-organization",
        apply_body(new, "evt_new", org_id, ACTIVE, CREATED + 5),
    )
    old = await claimed(fresh_core, "evt_old", CREATED)
    _, body = await fresh_core.post(
        "webhook-events/apply-organization", apply_body(old, "evt_old", org_id, PENDING, CREATED)
    )
    assert (body["updated"], body["completed"]) == (False, True)
    assert body["organization"]["stripe_connect_status"] == "active"


async def test_a_same_second_snapshot_with_another_state_stays_claimed_for_a_re_read(
    fresh_core: Core,
) -> None:
    org_id = await connected_org(fresh_core)
    first = await claimed(fresh_core, "evt_a")
    await fresh_core.post(
        "webhook-events/apply-organization", apply_body(first, "evt_a", org_id, PENDING, CREATED)
    )
    second = await claimed(fresh_core, "evt_b")
    _, body = await fresh_core.post(
        "webhook-events/apply-organization", apply_body(second, "evt_b", org_id, ACTIVE, CREATED)
    )
    assert (body["updated"], body["completed"]) == (False, False)
    assert body["organization"]["stripe_connect_status"] == "pending"
    # Still this caller's claim: it re-reads Stripe, writes, and completes it.
    done = {"event_id": "evt_b", "claim_id": second["claim_id"], "outcome": "processed"}
    assert await fresh_core.post("webhook-events/complete", done) == (200, {"status": "processed"})
    # The same state in the same second settles without a read.
    third = await claimed(fresh_core, "evt_c")
    _, same = await fresh_core.post(
        "webhook-events/apply-organization", apply_body(third, "evt_c", org_id, PENDING, CREATED)
    )
    assert (same["updated"], same["completed"]) == (False, True)


async def test_applying_with_a_lost_claim_is_409_and_an_unknown_org_404(fresh_core: Core) -> None:
    org_id = await connected_org(fresh_core)
    claim = await claimed(fresh_core, "evt_1")
    status, body = await fresh_core.post(
        "webhook-events/apply-organization",
        apply_body({"claim_id": "not-mine"}, "evt_1", org_id, ACTIVE, CREATED),
    )
    assert (status, body["error"]["code"]) == (409, "claim_lost")
    status, body = await fresh_core.post(
        "webhook-events/apply-organization", apply_body(claim, "evt_1", "org_gone", ACTIVE, CREATED)
    )
    assert (status, body["error"]["code"]) == (404, "organization_not_found")
    status, body = await fresh_core.post(
        "webhook-events/apply-organization",
        apply_body(claim, "evt_1", org_id, {"name": "x"}, CREATED),
    )
    assert status == 400


# --- a payout event's effect and its claim's completion in one call ------------------------------


def apply_payout_body(claim: dict[str, Any], event_id: str, org_id: str, **changes: Any) -> Any:
    from tests.worker.test_transfers_and_payouts import payout

    return {"event_id": event_id, "claim_id": claim["claim_id"], **payout(org_id, **changes)}


async def event_status(core: Core, event_id: str) -> dict[str, Any] | None:
    return (
        await core.db.prepare(
            'SELECT "status", "attempts" FROM "connect_webhook_event" WHERE "event_id" = ?'
        )
        .bind(event_id)
        .first()
    )


async def test_applying_a_payout_stores_it_and_completes_the_claim_in_one_call(
    fresh_core: Core,
) -> None:
    org_id = await connected_org(fresh_core)
    claim = await claimed(fresh_core, "evt_po_1")
    body = apply_payout_body(claim, "evt_po_1", org_id, status="paid", event_created=200)
    status, reply = await fresh_core.post("webhook-events/apply-payout", body)
    assert status == 200, reply
    assert reply["updated"] is True
    assert (reply["payout"]["stripe_payout_id"], reply["payout"]["status"]) == ("po_1", "paid")
    assert await event_status(fresh_core, "evt_po_1") == {"status": "processed", "attempts": 1}
    # The same call again (a retried HTTP request whose first attempt committed) is harmless.
    again = await fresh_core.post("webhook-events/apply-payout", body)
    assert again[0] == 200
    assert again[1]["updated"] is True  # the same state rewritten, not a second payout
    rows = await fresh_core.db.prepare('SELECT "status" FROM "connect_payout"').all()
    assert rows == [{"status": "paid"}]


async def test_an_older_payout_event_is_not_written_but_its_claim_completes(
    fresh_core: Core,
) -> None:
    org_id = await connected_org(fresh_core)
    new = await claimed(fresh_core, "evt_po_new")
    await fresh_core.post(
        "webhook-events/apply-payout",
        apply_payout_body(new, "evt_po_new", org_id, status="paid", event_created=300),
    )
    old = await claimed(fresh_core, "evt_po_old")
    status, reply = await fresh_core.post(
        "webhook-events/apply-payout",
        apply_payout_body(old, "evt_po_old", org_id, status="in_transit", event_created=200),
    )
    assert (status, reply["updated"], reply["payout"]["status"]) == (200, False, "paid")
    assert await event_status(fresh_core, "evt_po_old") == {"status": "processed", "attempts": 1}


async def test_a_payout_of_another_org_is_409_and_the_claim_stays_held_for_a_rejection(
    fresh_core: Core,
) -> None:
    from tests.worker.test_organizations import make_org

    org_a = await connected_org(fresh_core)
    org_b = make_org(fresh_core, "globex")
    first = await claimed(fresh_core, "evt_po_a")
    await fresh_core.post(
        "webhook-events/apply-payout", apply_payout_body(first, "evt_po_a", org_a)
    )
    before = await fresh_core.db.prepare("SELECT * FROM connect_payout").all()
    claim = await claimed(fresh_core, "evt_po_b")
    status, reply = await fresh_core.post(
        "webhook-events/apply-payout",
        apply_payout_body(claim, "evt_po_b", org_b, status="failed", event_created=500),
    )
    assert (status, reply["error"]["code"]) == (409, "stripe_id_conflict")
    assert "payout" not in reply
    assert await fresh_core.db.prepare("SELECT * FROM connect_payout").all() == before
    assert await event_status(fresh_core, "evt_po_b") == {"status": "processing", "attempts": 1}
    rejected = {
        "event_id": "evt_po_b",
        "claim_id": claim["claim_id"],
        "outcome": "rejected",
        "error": "the Worker refused it: stripe_id_conflict",
    }
    assert await fresh_core.post("webhook-events/complete", rejected) == (
        200,
        {"status": "rejected"},
    )


async def test_applying_a_payout_with_a_lost_claim_is_409_and_bad_fields_400(
    fresh_core: Core,
) -> None:
    org_id = await connected_org(fresh_core)
    await claimed(fresh_core, "evt_po_1")
    status, reply = await fresh_core.post(
        "webhook-events/apply-payout",
        apply_payout_body({"claim_id": "not-mine"}, "evt_po_1", org_id),
    )
    assert (status, reply["error"]["code"]) == (409, "claim_lost")
    assert await event_status(fresh_core, "evt_po_1") == {"status": "processing", "attempts": 1}
    for bad in ({"status": "lost"}, {"amount": -1}, {"currency": "EUR"}, {"claim_id": None}):
        body = {**apply_payout_body({"claim_id": "c"}, "evt_po_1", org_id), **bad}
        status, reply = await fresh_core.post("webhook-events/apply-payout", body)
        assert (status, reply["error"]["code"]) == (400, "invalid_request"), bad


# --- the claim carrying the snapshot: effect and completion in the claim's own batch ------------


async def claim_with(core: Core, event_id: str, fields: dict[str, Any], created: int) -> Any:
    body = claim_body(event_id, event_created=created, snapshot=fields)
    status, reply = await core.post("webhook-events/claim", body)
    assert status == 200, reply
    return reply


async def synced(core: Core, org_id: str, fields: dict[str, Any], at: float) -> None:
    body = {"organization_id": org_id, "fields": fields, "synced_at": at}
    assert (await core.post("update-organization", body))[0] == 200


async def test_a_claim_with_a_newer_snapshot_writes_it_and_completes_in_the_same_call(
    fresh_core: Core,
) -> None:
    org_id = await connected_org(fresh_core)
    await synced(fresh_core, org_id, PENDING, CREATED - 60)
    reply = await claim_with(fresh_core, "evt_1", ACTIVE, CREATED)
    assert (reply["claimed"], reply["updated"], reply["completed"]) == (True, True, True)
    assert reply["organization"]["stripe_connect_status"] == "active"
    assert reply["watermark"] == CREATED + 0.999
    assert await event_status(fresh_core, "evt_1") == {"status": "processed", "attempts": 1}


async def test_a_claim_with_an_older_snapshot_completes_without_writing(fresh_core: Core) -> None:
    org_id = await connected_org(fresh_core)
    await synced(fresh_core, org_id, ACTIVE, CREATED + 5)
    reply = await claim_with(fresh_core, "evt_old", PENDING, CREATED)
    assert (reply["updated"], reply["completed"]) == (False, True)
    assert reply["organization"]["stripe_connect_status"] == "active"


async def test_a_claim_with_a_snapshot_that_cannot_be_ordered_writes_nothing_and_stays_held(
    fresh_core: Core,
) -> None:
    org_id = await connected_org(fresh_core)
    never_synced = await claim_with(fresh_core, "evt_nowm", ACTIVE, CREATED)
    assert (never_synced["updated"], never_synced["completed"]) == (False, False)
    assert never_synced["watermark"] is None  # no time to order against: the caller reads Stripe
    await synced(fresh_core, org_id, PENDING, CREATED + 0.4)
    tie = await claim_with(fresh_core, "evt_tie", ACTIVE, CREATED)  # same second, other state
    assert (tie["updated"], tie["completed"]) == (False, False)
    assert tie["organization"]["stripe_connect_status"] == "pending"
    assert await event_status(fresh_core, "evt_tie") == {"status": "processing", "attempts": 1}
    same = await claim_with(fresh_core, "evt_same", PENDING, CREATED)  # same second, same state
    assert (same["updated"], same["completed"]) == (False, True)
    nobody = await fresh_core.post(
        "webhook-events/claim",
        claim_body("evt_x", stripe_account_id="acct_nobody", snapshot=ACTIVE),
    )
    assert (nobody[1]["organization"], nobody[1]["completed"]) == (None, False)


async def test_a_refused_claim_never_applies_its_snapshot(fresh_core: Core) -> None:
    org_id = await connected_org(fresh_core)
    await synced(fresh_core, org_id, PENDING, CREATED - 60)
    await claimed(fresh_core, "evt_1")  # another replica holds it
    before = await fresh_core.db.prepare('SELECT * FROM "organization"').all()
    _, reply = await fresh_core.post(
        "webhook-events/claim", claim_body("evt_1", snapshot=ACTIVE, event_created=CREATED + 9)
    )
    assert reply == {"claimed": False, "status": "processing"}
    assert await fresh_core.db.prepare('SELECT * FROM "organization"').all() == before
    status, bad = await fresh_core.post(
        "webhook-events/claim", claim_body("evt_2", snapshot={"name": "x"})
    )
    assert (status, bad["error"]["code"]) == (400, "invalid_request")


# --- a transfer event's effect and its claim's completion in one call ---------------------------


async def reserved_transfer(core: Core) -> str:
    from tests.worker.test_organizations import make_org
    from tests.worker.test_transfers_and_payouts import reserve_body

    org_id = make_org(core)
    assert (await core.post("transfers/reserve", reserve_body(org_id)))[0] == 201
    return org_id


def apply_transfer_body(
    claim: dict[str, Any], event_id: str, org_id: str | None, **changes: Any
) -> dict[str, Any]:
    from tests.worker.test_transfer_reconciliation import sync_body

    return {"event_id": event_id, "claim_id": claim["claim_id"], **sync_body(org_id, **changes)}


async def transfer_row(core: Core) -> dict[str, Any] | None:
    return await core.db.prepare(
        'SELECT "status", "stripe_transfer_id", "amount_reversed" FROM "connect_transfer"'
    ).first()


async def test_applying_a_transfer_event_syncs_the_ledger_and_completes_the_claim_in_one_call(
    fresh_core: Core,
) -> None:
    org_id = await reserved_transfer(fresh_core)
    claim = await claimed(fresh_core, "evt_tr_1")
    body = apply_transfer_body(claim, "evt_tr_1", org_id, amount_reversed=500)
    status, reply = await fresh_core.post("webhook-events/apply-transfer", body)
    assert status == 200, reply
    assert (reply["transfer"]["status"], reply["transfer"]["amount_reversed"]) == ("succeeded", 500)
    assert await event_status(fresh_core, "evt_tr_1") == {"status": "processed", "attempts": 1}
    # The same call again (a retried HTTP request whose first attempt committed) is harmless.
    again = await fresh_core.post("webhook-events/apply-transfer", body)
    assert again[0] == 200
    assert {**again[1]["transfer"], "updated_at": ""} == {**reply["transfer"], "updated_at": ""}
    assert await transfer_row(fresh_core) == {
        "status": "succeeded",
        "stripe_transfer_id": "tr_9",
        "amount_reversed": 500,
    }


async def test_a_transfer_not_in_the_ledger_is_404_and_its_claim_completes(
    fresh_core: Core,
) -> None:
    claim = await claimed(fresh_core, "evt_tr_x")
    status, reply = await fresh_core.post(
        "webhook-events/apply-transfer", apply_transfer_body(claim, "evt_tr_x", None)
    )
    assert (status, reply["error"]["code"]) == (404, "transfer_not_found")
    assert await event_status(fresh_core, "evt_tr_x") == {"status": "processed", "attempts": 1}


async def test_a_transfer_mismatch_is_409_writes_nothing_and_its_claim_completes(
    fresh_core: Core,
) -> None:
    org_id = await reserved_transfer(fresh_core)
    before = await transfer_row(fresh_core)
    claim = await claimed(fresh_core, "evt_tr_m")
    status, reply = await fresh_core.post(
        "webhook-events/apply-transfer", apply_transfer_body(claim, "evt_tr_m", org_id, amount=1)
    )
    assert (status, reply["error"]["code"]) == (409, "transfer_mismatch")
    assert await transfer_row(fresh_core) == before
    assert await event_status(fresh_core, "evt_tr_m") == {"status": "processed", "attempts": 1}


async def test_applying_a_transfer_with_a_lost_claim_is_409_and_writes_nothing(
    fresh_core: Core,
) -> None:
    org_id = await reserved_transfer(fresh_core)
    await claimed(fresh_core, "evt_tr_1")
    before = await transfer_row(fresh_core)
    for claim_id in ("not-mine", None):
        lost = apply_transfer_body({"claim_id": claim_id}, "evt_tr_1", org_id, reversed=True)
        if claim_id is None:
            lost["event_id"] = "evt_never_claimed"
            lost["claim_id"] = "c"
        status, reply = await fresh_core.post("webhook-events/apply-transfer", lost)
        assert (status, reply["error"]["code"]) == (409, "claim_lost")
    assert await transfer_row(fresh_core) == before  # neither adopted nor reversed
    assert await event_status(fresh_core, "evt_tr_1") == {"status": "processing", "attempts": 1}


async def test_applying_a_transfer_with_bad_fields_is_400(fresh_core: Core) -> None:
    org_id = await reserved_transfer(fresh_core)
    claim = await claimed(fresh_core, "evt_tr_1")
    good = apply_transfer_body(claim, "evt_tr_1", org_id)
    partial = apply_transfer_body(claim, "evt_tr_1", None, organization_id=org_id)
    bad_bodies = [
        partial,
        {**good, "amount_reversed": -1},
        {**good, "reversed": "yes"},
        {**good, "claim_id": None},
        {key: value for key, value in good.items() if key != "event_id"},
        {**good, "fee": 1},
    ]
    for body in bad_bodies:
        status, reply = await fresh_core.post("webhook-events/apply-transfer", body)
        assert (status, reply["error"]["code"]) == (400, "invalid_request"), body
    assert await transfer_row(fresh_core) == {
        "status": "pending",
        "stripe_transfer_id": None,
        "amount_reversed": 0,
    }
    assert await event_status(fresh_core, "evt_tr_1") == {"status": "processing", "attempts": 1}


# --- an organization update an event asks for (a deauthorization) and its completion ------------

DISABLED = {
    "stripe_connect_status": "disabled",
    "charges_enabled": False,
    "payouts_enabled": False,
}


def update_body(claim: dict[str, Any], event_id: str, org_id: str, **changes: Any) -> Any:
    body = {
        "event_id": event_id,
        "claim_id": claim["claim_id"],
        "organization_id": org_id,
        "fields": DISABLED,
        "synced_at": CREATED + 0.999,
    }
    return {**body, **changes}


async def org_state(core: Core, org_id: str) -> dict[str, Any] | None:
    return (
        await core.db.prepare(
            'SELECT "stripe_connect_status", "stripe_synced_at" FROM "organization" WHERE "id" = ?'
        )
        .bind(org_id)
        .first()
    )


async def test_an_events_organization_update_writes_and_completes_the_claim_in_one_call(
    fresh_core: Core,
) -> None:
    org_id = await connected_org(fresh_core)
    await synced(fresh_core, org_id, ACTIVE, CREATED - 60)
    claim = await claimed(fresh_core, "evt_de_1")
    body = update_body(claim, "evt_de_1", org_id)
    status, reply = await fresh_core.post("webhook-events/update-organization", body)
    assert status == 200, reply
    assert reply["updated"] is True
    assert reply["organization"]["stripe_connect_status"] == "disabled"
    assert await event_status(fresh_core, "evt_de_1") == {"status": "processed", "attempts": 1}
    # The same call again (a retried HTTP request whose first attempt committed) is harmless.
    again = await fresh_core.post("webhook-events/update-organization", body)
    assert (again[0], again[1]["organization"]) == (200, reply["organization"])


async def test_an_older_update_is_not_written_but_its_claim_completes(fresh_core: Core) -> None:
    org_id = await connected_org(fresh_core)
    await synced(fresh_core, org_id, ACTIVE, CREATED + 60)
    claim = await claimed(fresh_core, "evt_de_old")
    status, reply = await fresh_core.post(
        "webhook-events/update-organization", update_body(claim, "evt_de_old", org_id)
    )
    assert (status, reply["updated"]) == (200, False)
    assert reply["organization"]["stripe_connect_status"] == "active"
    assert await event_status(fresh_core, "evt_de_old") == {"status": "processed", "attempts": 1}


async def test_an_update_with_a_lost_claim_is_409_and_writes_nothing(fresh_core: Core) -> None:
    org_id = await connected_org(fresh_core)
    await synced(fresh_core, org_id, ACTIVE, CREATED - 60)
    before = await org_state(fresh_core, org_id)
    await claimed(fresh_core, "evt_de_1")
    status, reply = await fresh_core.post(
        "webhook-events/update-organization",
        update_body({"claim_id": "not-mine"}, "evt_de_1", org_id),
    )
    assert (status, reply["error"]["code"]) == (409, "claim_lost")
    assert await org_state(fresh_core, org_id) == before
    assert await event_status(fresh_core, "evt_de_1") == {"status": "processing", "attempts": 1}


async def test_an_update_of_an_unknown_org_is_404_and_bad_fields_400_leaving_the_claim_held(
    fresh_core: Core,
) -> None:
    org_id = await connected_org(fresh_core)
    claim = await claimed(fresh_core, "evt_de_1")
    status, reply = await fresh_core.post(
        "webhook-events/update-organization", update_body(claim, "evt_de_1", "org_gone")
    )
    assert (status, reply["error"]["code"]) == (404, "organization_not_found")
    bad_changes: list[dict[str, Any]] = [
        {"fields": {"name": "x"}},
        {"fields": {}},
        {"synced_at": -1},
        {"claim_id": None},
        {"organization_id": 7},
    ]
    for bad in bad_changes:
        body = update_body(claim, "evt_de_1", org_id, **bad)
        status, reply = await fresh_core.post("webhook-events/update-organization", body)
        assert (status, reply["error"]["code"]) == (400, "invalid_request"), bad
    assert await event_status(fresh_core, "evt_de_1") == {"status": "processing", "attempts": 1}


# --- a payment event's record and its claim's completion in one call -----------------------------


def apply_payment_body(
    claim: dict[str, Any], event_id: str, org_id: str, *, hold: bool = False, **changes: Any
) -> dict[str, Any]:
    from tests.worker.test_payment_sources import payment

    return {
        "event_id": event_id,
        "claim_id": claim["claim_id"],
        "hold_if_auto_transfer": hold,
        **payment(org_id, **changes),
    }


async def payment_rows(core: Core) -> list[dict[str, Any]]:
    return await core.db.prepare(
        'SELECT "payment_intent_id", "organization_id", "amount_refunded", "status" '
        'FROM "connect_payment"'
    ).all()


async def transfers_automatically(core: Core, org_id: str) -> None:
    body = {"organization_id": org_id, "enabled": True}
    assert (await core.post("set-auto-transfer", body))[0] == 200


async def test_applying_a_payment_records_it_and_completes_the_claim_in_one_call(
    fresh_core: Core,
) -> None:
    from tests.worker.test_organizations import make_org

    org_id = make_org(fresh_core)
    claim = await claimed(fresh_core, "evt_pay_1")
    body = apply_payment_body(claim, "evt_pay_1", org_id, hold=True)
    status, reply = await fresh_core.post("webhook-events/apply-payment", body)
    assert status == 200, reply
    assert reply["completed"] is True  # held only for an organization that transfers on its own
    assert reply["organization"]["id"] == org_id
    assert (reply["payment"]["payment_intent_id"], reply["payment"]["amount_remaining"]) == (
        "pi_A1",
        10_000,
    )
    assert await event_status(fresh_core, "evt_pay_1") == {"status": "processed", "attempts": 1}
    # The same call again (a retried HTTP request whose first attempt committed) is harmless.
    again = await fresh_core.post("webhook-events/apply-payment", body)
    assert (again[0], again[1]["completed"]) == (200, True)
    assert len(await payment_rows(fresh_core)) == 1


async def test_a_payment_of_an_org_that_transfers_automatically_is_recorded_and_held_if_asked(
    fresh_core: Core,
) -> None:
    from tests.worker.test_organizations import make_org

    org_id = make_org(fresh_core)
    await transfers_automatically(fresh_core, org_id)
    claim = await claimed(fresh_core, "evt_pay_auto")
    status, reply = await fresh_core.post(
        "webhook-events/apply-payment", apply_payment_body(claim, "evt_pay_auto", org_id, hold=True)
    )
    assert (status, reply["completed"]) == (200, False)
    assert reply["organization"]["auto_transfer_payments"] is True
    assert await payment_rows(fresh_core) == [
        {
            "payment_intent_id": "pi_A1",
            "organization_id": org_id,
            "amount_refunded": 0,
            "status": "succeeded",
        }
    ]
    # Held for the transfer: the caller completes it after.
    assert await event_status(fresh_core, "evt_pay_auto") == {
        "status": "processing",
        "attempts": 1,
    }
    done = {"event_id": "evt_pay_auto", "claim_id": claim["claim_id"], "outcome": "processed"}
    assert (await fresh_core.post("webhook-events/complete", done))[0] == 200
    # A refund of it (not asked to hold) completes in the same call.
    refund = await claimed(fresh_core, "evt_pay_refund")
    body = apply_payment_body(
        refund, "evt_pay_refund", org_id, amount_refunded=10_000, status="refunded"
    )
    status, reply = await fresh_core.post("webhook-events/apply-payment", body)
    assert (status, reply["completed"], reply["payment"]["amount_remaining"]) == (200, True, 0)


async def test_a_payment_for_an_unknown_org_is_404_or_another_orgs_409_and_both_complete(
    fresh_core: Core,
) -> None:
    from tests.worker.test_organizations import make_org

    org_a, org_b = make_org(fresh_core), make_org(fresh_core, "globex")
    gone = await claimed(fresh_core, "evt_pay_gone")
    status, reply = await fresh_core.post(
        "webhook-events/apply-payment", apply_payment_body(gone, "evt_pay_gone", "org_gone")
    )
    assert (status, reply["error"]["code"]) == (404, "organization_not_found")
    assert await payment_rows(fresh_core) == []
    assert await event_status(fresh_core, "evt_pay_gone") == {"status": "processed", "attempts": 1}

    first = await claimed(fresh_core, "evt_pay_a")
    await fresh_core.post(
        "webhook-events/apply-payment", apply_payment_body(first, "evt_pay_a", org_a)
    )
    before = await payment_rows(fresh_core)
    await transfers_automatically(fresh_core, org_b)
    theirs = await claimed(fresh_core, "evt_pay_b")
    status, reply = await fresh_core.post(
        "webhook-events/apply-payment",
        apply_payment_body(theirs, "evt_pay_b", org_b, hold=True, amount_refunded=5),
    )
    assert (status, reply["error"]["code"]) == (409, "payment_conflict")
    assert await payment_rows(fresh_core) == before
    assert await event_status(fresh_core, "evt_pay_b") == {"status": "processed", "attempts": 1}


async def test_applying_a_payment_with_a_lost_claim_is_409_and_writes_nothing(
    fresh_core: Core,
) -> None:
    from tests.worker.test_organizations import make_org

    org_id = make_org(fresh_core)
    await claimed(fresh_core, "evt_pay_1")
    for event_id in ("evt_pay_1", "evt_never_claimed"):
        body = apply_payment_body({"claim_id": "not-mine"}, event_id, org_id)
        status, reply = await fresh_core.post("webhook-events/apply-payment", body)
        assert (status, reply["error"]["code"]) == (409, "claim_lost")
    assert await payment_rows(fresh_core) == []
    assert await event_status(fresh_core, "evt_pay_1") == {"status": "processing", "attempts": 1}


async def test_applying_a_payment_with_bad_fields_is_400(fresh_core: Core) -> None:
    from tests.worker.test_organizations import make_org

    org_id = make_org(fresh_core)
    claim = await claimed(fresh_core, "evt_pay_1")
    bad_changes: list[dict[str, Any]] = [
        {"amount_refunded": 10_001},
        {"payment_intent_id": "ch_1"},
        {"amount": 2**53},
        {"currency": "USD"},
        {"hold_if_auto_transfer": "yes"},
        {"claim_id": None},
        {"fee": 1},
    ]
    for bad in bad_changes:
        body = {**apply_payment_body(claim, "evt_pay_1", org_id), **bad}
        status, reply = await fresh_core.post("webhook-events/apply-payment", body)
        assert (status, reply["error"]["code"]) == (400, "invalid_request"), bad
    assert await payment_rows(fresh_core) == []
    assert await event_status(fresh_core, "evt_pay_1") == {"status": "processing", "attempts": 1}
