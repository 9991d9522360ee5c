"""A payment's returns in D1: a plan is reserved once per state of the payment (two plans made
from one state cannot both move money), Stripe's answers settle the rows, a refused reversal is a
debt with a line for every part that pays it, and disputes are recorded under the event's claim."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.worker.conftest import Core
from tests.worker.test_organizations import make_org
from tests.worker.test_payment_sources import payment, sourced
from tests.worker.test_webhook_events import claim_body


async def _transferred(core: Core, org_id: str, gross: int = 10000) -> str:
    """A payment of 100.00 with one transfer of `gross` (10% fee) that Stripe made."""
    status, body = await core.post("transfers/reserve", sourced(org_id, "t1", gross))
    assert status == 201, body
    done = {
        "organization_id": org_id,
        "idempotency_key": "t1",
        "status": "succeeded",
        "stripe_transfer_id": "tr_T1",
    }
    assert (await core.post("transfers/complete", done))[0] == 200
    return "tr_T1"


def part(key: str, amount: int, **changes: Any) -> dict[str, Any]:
    return {
        "kind": "reversal",
        "stripe_transfer_id": "tr_T1",
        "cause": "refund",
        "cause_id": "evt_R1",
        "idempotency_key": key,
        "amount": amount,
        "status": "pending",
        **changes,
    }


def reserve(version: int, *parts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "source_transaction": "ch_A1",
        "returns_version": version,
        "parts": list(parts),
        **extra,
    }


async def _state(core: Core) -> dict[str, Any]:
    status, body = await core.call("GET", "/api/internal/returns/ch_A1")
    assert status == 200, body
    return body


async def test_the_state_of_a_payment_lists_its_transfers_and_returns(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await _transferred(fresh_core, org_id)
    state = await _state(fresh_core)
    assert state["payment"]["returns_version"] == 0
    assert [t["stripe_transfer_id"] for t in state["transfers"]] == ["tr_T1"]
    assert state["returns"] == []
    status, body = await fresh_core.call("GET", "/api/internal/returns/ch_nope")
    assert (status, body["error"]["code"]) == (404, "payment_not_found")


async def test_a_plan_is_reserved_once_and_a_second_plan_from_the_same_state_is_refused(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    await _transferred(fresh_core, org_id)
    status, first = await fresh_core.post("returns/reserve", reserve(0, part("rev:a", 9000)))
    assert status == 201, first
    row = first["returns"][0]
    assert (row["organization_id"], row["currency"], row["status"]) == (org_id, "usd", "pending")
    assert first["payment"]["returns_version"] == 1
    # The same plan again (a redelivered event): answered from the rows, nothing new.
    status, again = await fresh_core.post("returns/reserve", reserve(0, part("rev:a", 9000)))
    assert (status, again["created"]) == (200, False)
    # Another plan made from the state before the first (a second event racing): refused.
    status, other = await fresh_core.post("returns/reserve", reserve(0, part("rev:b", 9000)))
    assert (status, other["error"]["code"]) == (409, "returns_conflict")
    assert len((await _state(fresh_core))["returns"]) == 1


async def test_racing_plans_move_the_money_once(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await _transferred(fresh_core, org_id)
    answers = await asyncio.gather(
        *(fresh_core.post("returns/reserve", reserve(0, part(f"rev:{n}", 9000))) for n in range(8))
    )
    assert sorted(status for status, _ in answers) == [201] + [409] * 7
    assert len((await _state(fresh_core))["returns"]) == 1


async def test_a_part_must_name_a_transfer_of_this_payment(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await _transferred(fresh_core, org_id)
    body = reserve(0, part("rev:x", 100, stripe_transfer_id="tr_SomeoneElse"))
    status, reply = await fresh_core.post("returns/reserve", body)
    assert (status, reply["error"]["code"]) == (400, "invalid_request")
    assert (await _state(fresh_core))["returns"] == []


async def test_bad_plans_are_400s_and_write_nothing(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await _transferred(fresh_core, org_id)
    bad = [
        reserve(0),
        reserve(0, part("k", 0)),
        reserve(0, part("k", 10), part("k", 20)),
        reserve(0, part("k", 10, kind="reinstatement", status="owed")),
        reserve(-1, part("k", 10)),
        reserve(0, part("k", 10, cause="chargeback")),
        reserve(0, *(part(f"k{n}", 1) for n in range(21))),
    ]
    for body in bad:
        status, reply = await fresh_core.post("returns/reserve", body)
        assert (status, reply["error"]["code"]) == (400, "invalid_request"), body
    assert (await _state(fresh_core))["payment"]["returns_version"] == 0


async def test_stripes_answers_settle_rows_and_a_refusal_is_a_debt(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await _transferred(fresh_core, org_id)
    parts = (part("rev:a", 3000), part("rev:b", 6000))
    assert (await fresh_core.post("returns/reserve", reserve(0, *parts)))[0] == 201
    results = [
        {"idempotency_key": "rev:a", "status": "done", "stripe_object_id": "trr_1"},
        {"idempotency_key": "rev:b", "status": "owed", "failure_message": "balance_insufficient"},
    ]
    status, body = await fresh_core.post("returns/complete", {"results": results})
    assert status == 200, body
    done, owed = body["returns"]
    assert (done["status"], done["amount_reversed"], done["amount_owed"]) == ("done", 3000, 0)
    assert (owed["status"], owed["amount_owed"]) == ("owed", 6000)
    # A second answer for a settled row changes nothing.
    again = [{"idempotency_key": "rev:a", "status": "owed"}]
    assert (await fresh_core.post("returns/complete", {"results": again}))[1]["returns"][0][
        "status"
    ] == "done"

    status, debts = await fresh_core.call("GET", f"/api/internal/debts/{org_id}")
    assert status == 200
    assert debts["owed"] == [{"amount": 6000, "currency": "usd"}]
    assert [d["idempotency_key"] for d in debts["debts"]] == ["rev:b"]
    status, everyone = await fresh_core.call("GET", "/api/internal/debts")
    assert [d["organization_id"] for d in everyone["debts"]] == [org_id]

    # Retried (reconciliation), and recovered from a later transfer: one line, nothing owed.
    status, retried = await fresh_core.post("returns/retry", {"idempotency_key": "rev:b"})
    assert (status, retried["retried"], retried["row"]["attempts"]) == (200, True, 2)
    paid = [
        {
            "idempotency_key": "rev:b",
            "status": "done",
            "stripe_object_id": "trr_2",
            "recovered_from": "tr_Later",
        }
    ]
    row = (await fresh_core.post("returns/complete", {"results": paid}))[1]["returns"][0]
    assert (row["status"], row["amount_recovered"], row["amount_owed"]) == ("done", 6000, 0)
    debts = (await fresh_core.call("GET", f"/api/internal/debts/{org_id}"))[1]
    assert debts["owed"] == []
    assert debts["debts"] == []
    assert [(line["kind"], line["amount"], line["reference"]) for line in debts["lines"]] == [
        ("recovered", 6000, "trr_2")
    ]
    status, missing = await fresh_core.post("returns/retry", {"idempotency_key": "nope"})
    assert (status, missing["error"]["code"]) == (404, "return_not_found")


async def test_a_debt_is_forgiven_in_part_with_a_line_and_only_up_to_what_is_owed(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    await _transferred(fresh_core, org_id)
    await fresh_core.post("returns/reserve", reserve(0, part("rev:a", 9000, status="owed")))
    debt_id = (await _state(fresh_core))["returns"][0]["id"]
    too_much = reserve(1, forgive=[{"return_id": debt_id, "amount": 9001, "reference": "evt_W"}])
    # More than is owed is skipped (the backend plans from the state it reserves against).
    assert (await fresh_core.post("returns/reserve", too_much))[0] == 201
    row = (await _state(fresh_core))["returns"][0]
    assert (row["amount_forgiven"], row["status"]) == (0, "owed")
    version = (await _state(fresh_core))["payment"]["returns_version"]
    some = reserve(version, forgive=[{"return_id": debt_id, "amount": 4000, "reference": "evt_W"}])
    assert (await fresh_core.post("returns/reserve", some))[0] == 201
    row = (await _state(fresh_core))["returns"][0]
    assert (row["amount_forgiven"], row["amount_owed"], row["status"]) == (4000, 5000, "owed")
    lines = (await fresh_core.call("GET", f"/api/internal/debts/{org_id}"))[1]["lines"]
    assert [(line["kind"], line["amount"]) for line in lines] == [("forgiven", 4000)]


async def test_the_history_of_returns_pages_newest_first(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await _transferred(fresh_core, org_id)
    await fresh_core.post("returns/reserve", reserve(0, part("a", 100), part("b", 200)))
    status, page = await fresh_core.post("history/returns", {"organization_id": org_id, "limit": 1})
    assert status == 200
    assert [r["idempotency_key"] for r in page["returns"]] == ["b"]
    assert page["returns"][0]["amount_owed"] == 0
    nxt = {"organization_id": org_id, "limit": 5, "before_id": page["next_before_id"]}
    assert [
        r["idempotency_key"] for r in (await fresh_core.post("history/returns", nxt))[1]["returns"]
    ] == ["a"]


# --- disputes ---------------------------------------------------------------------------------


async def _claimed(core: Core, event_id: str) -> str:
    status, body = await core.post("webhook-events/claim", claim_body(event_id))
    assert status == 200, body
    claim_id: str = body["claim_id"]
    return claim_id


def dispute(
    event_id: str, claim_id: str, status: str, withdrawn: int, **extra: Any
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "claim_id": claim_id,
        "charge_id": "ch_A1",
        "dispute_id": "du_1",
        "dispute_status": status,
        "amount_withdrawn": withdrawn,
        "hold_if_transferred": True,
        **extra,
    }


async def test_a_dispute_stops_transfers_and_holds_the_claim_when_money_went_out(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    assert (await fresh_core.post("payments/record", payment(org_id)))[0] == 200
    claim = await _claimed(fresh_core, "evt_D1")
    status, body = await fresh_core.post(
        "webhook-events/apply-dispute", dispute("evt_D1", claim, "needs_response", 10000)
    )
    assert status == 200, body
    assert body["completed"] is True  # nothing was transferred: nothing to give back
    assert (body["payment"]["amount_disputed"], body["payment"]["amount_remaining"]) == (10000, 0)
    status, refused = await fresh_core.post("transfers/reserve", sourced(org_id, "t1", 100))
    assert (status, refused["error"]["code"]) == (409, "source_disputed")


async def test_a_final_dispute_status_is_never_replaced_by_a_late_event(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await _transferred(fresh_core, org_id)
    won = await _claimed(fresh_core, "evt_won")
    status, body = await fresh_core.post(
        "webhook-events/apply-dispute", dispute("evt_won", won, "won", 0)
    )
    assert (status, body["completed"]) == (200, False)  # held: transfers were made from it
    late = await _claimed(fresh_core, "evt_late")
    _, body = await fresh_core.post(
        "webhook-events/apply-dispute", dispute("evt_late", late, "needs_response", 10000)
    )
    assert (body["payment"]["dispute_status"], body["payment"]["amount_disputed"]) == ("won", 0)


async def test_a_dispute_on_a_charge_we_did_not_collect_completes_its_claim(
    fresh_core: Core,
) -> None:
    claim = await _claimed(fresh_core, "evt_X")
    body = dispute("evt_X", claim, "needs_response", 100)
    status, reply = await fresh_core.post("webhook-events/apply-dispute", body)
    assert (status, reply["error"]["code"]) == (404, "payment_not_found")
    status, again = await fresh_core.post("webhook-events/claim", claim_body("evt_X"))
    assert again["claimed"] is False
    assert again["status"] == "processed"


async def test_a_lost_claim_records_no_dispute(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await fresh_core.post("payments/record", payment(org_id))
    await _claimed(fresh_core, "evt_L")
    status, body = await fresh_core.post(
        "webhook-events/apply-dispute", dispute("evt_L", "not-the-claim", "lost", 10000)
    )
    assert (status, body["error"]["code"]) == (409, "claim_lost")
    state = await _state(fresh_core)
    assert state["payment"]["dispute_status"] is None


async def test_a_debt_recovered_in_part_stays_owed_for_the_rest(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    await _transferred(fresh_core, org_id)
    await fresh_core.post("returns/reserve", reserve(0, part("debt:a", 9000, status="owed")))
    await fresh_core.post("returns/retry", {"idempotency_key": "debt:a"})
    first = {
        "idempotency_key": "debt:a",
        "status": "done",
        "stripe_object_id": "trr_p1",
        "recovered_from": "tr_Next",
        "amount": 4000,
    }
    row = (await fresh_core.post("returns/complete", {"results": [first]}))[1]["returns"][0]
    assert (row["status"], row["amount_recovered"], row["amount_owed"]) == ("owed", 4000, 5000)
    await fresh_core.post("returns/retry", {"idempotency_key": "debt:a"})
    rest = {**first, "stripe_object_id": "trr_p2", "amount": 9999}  # never more than owed
    row = (await fresh_core.post("returns/complete", {"results": [rest]}))[1]["returns"][0]
    assert (row["status"], row["amount_recovered"], row["amount_owed"]) == ("done", 9000, 0)
    lines = (await fresh_core.call("GET", f"/api/internal/debts/{org_id}"))[1]["lines"]
    assert [(line["kind"], line["amount"]) for line in lines] == [
        ("recovered", 5000),
        ("recovered", 4000),
    ]


async def test_a_debts_attempt_on_a_later_transfer_is_recorded_with_the_part_it_takes(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    await _transferred(fresh_core, org_id)
    await fresh_core.post("returns/reserve", reserve(0, part("debt:b", 9000, status="owed")))
    half = {"idempotency_key": "debt:b", "reversing_transfer": "tr_Next"}
    status, body = await fresh_core.post("returns/retry", half)
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    status, body = await fresh_core.post("returns/retry", {**half, "reversing_amount": 3000})
    assert status == 200
    row = body["row"]
    assert (row["status"], row["reversing_transfer"], row["reversing_amount"]) == (
        "pending",
        "tr_Next",
        3000,
    )
    status, debts = await fresh_core.call("GET", "/api/internal/debts")
    assert [d["idempotency_key"] for d in debts["debts"]] == ["debt:b"]  # pending: resent later
