"""An organization's payments a dispute holds back stay in its earnings list (nothing left to
transfer, its dispute named), so its owners see why it waits — or, lost, where it went."""

from __future__ import annotations

from typing import Any

from tests.worker.conftest import Core
from tests.worker.test_organizations import make_org
from tests.worker.test_payment_sources import payment
from tests.worker.test_returns import _claimed, dispute


async def _listed(core: Core, org_id: str) -> list[dict[str, Any]]:
    status, body = await core.call("GET", f"/api/internal/payments/{org_id}/untransferred")
    assert status == 200
    found: list[dict[str, Any]] = body["payments"]
    return found


async def _apply(core: Core, event_id: str, status: str, withdrawn: int) -> None:
    claim = await _claimed(core, event_id)
    code, body = await core.post(
        "webhook-events/apply-dispute", dispute(event_id, claim, status, withdrawn)
    )
    assert code == 200, body


async def test_a_payment_under_dispute_is_listed_with_nothing_to_transfer(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    assert (await fresh_core.post("payments/record", payment(org_id)))[0] == 200
    await _apply(fresh_core, "evt_open", "needs_response", 10000)
    [listed] = await _listed(fresh_core, org_id)
    assert (listed["dispute_status"], listed["amount_disputed"], listed["amount_remaining"]) == (
        "needs_response",
        10000,
        0,
    )
    await _apply(fresh_core, "evt_won", "won", 0)
    [won] = await _listed(fresh_core, org_id)
    assert (won["dispute_status"], won["amount_remaining"]) == ("won", 10000)


async def test_a_payment_whose_dispute_was_lost_stays_listed_with_nothing_to_transfer(
    fresh_core: Core,
) -> None:
    org_id = make_org(fresh_core)
    assert (await fresh_core.post("payments/record", payment(org_id)))[0] == 200
    await _apply(fresh_core, "evt_open", "needs_response", 10000)
    await _apply(fresh_core, "evt_lost", "lost", 10000)
    [lost] = await _listed(fresh_core, org_id)
    assert (lost["dispute_status"], lost["amount_remaining"]) == ("lost", 0)


async def test_a_fully_refunded_payment_under_dispute_is_not_listed(fresh_core: Core) -> None:
    org_id = make_org(fresh_core)
    refunded = payment(org_id, amount_refunded=10000)
    assert (await fresh_core.post("payments/record", refunded))[0] == 200
    await _apply(fresh_core, "evt_open", "needs_response", 0)
    assert await _listed(fresh_core, org_id) == []
