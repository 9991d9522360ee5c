"""A claim sent twice with the caller's own claim id (the first may have run: its answer was
lost) is answered as the first was — granted, with the same id — never as held by another."""

from __future__ import annotations

from typing import Any

from tests.worker.conftest import Core
from tests.worker.test_webhook_events import (
    ACTIVE,
    CREATED,
    PENDING,
    claim_body,
    connected_org,
    event_status,
    synced,
)

OURS = "backend-claim-0123456789"


async def _claim(core: Core, **extra: Any) -> tuple[int, Any]:
    return await core.post("webhook-events/claim", claim_body(**extra))


async def test_a_claim_sent_again_with_its_own_id_is_answered_as_granted(fresh_core: Core) -> None:
    status, first = await _claim(fresh_core, claim_id=OURS)
    assert (status, first["claimed"], first["claim_id"], first["attempts"]) == (200, True, OURS, 1)
    assert await _claim(fresh_core, claim_id=OURS) == (200, first)
    assert await event_status(fresh_core, "evt_1") == {"status": "processing", "attempts": 1}
    # Anyone else (another replica, another delivery) is still refused while it is held.
    assert await _claim(fresh_core, claim_id="someone-else-0123456") == (
        200,
        {"claimed": False, "status": "processing"},
    )
    assert await _claim(fresh_core) == (200, {"claimed": False, "status": "processing"})


async def test_a_completed_claim_is_not_granted_again_to_its_own_id(fresh_core: Core) -> None:
    await _claim(fresh_core, claim_id=OURS)
    done = {"event_id": "evt_1", "claim_id": OURS, "outcome": "processed"}
    assert (await fresh_core.post("webhook-events/complete", done))[0] == 200
    assert await _claim(fresh_core, claim_id=OURS) == (
        200,
        {"claimed": False, "status": "processed"},
    )


async def test_a_snapshot_claim_sent_again_after_it_completed_answers_completed(
    fresh_core: Core,
) -> None:
    org_id = await connected_org(fresh_core)
    await synced(fresh_core, org_id, PENDING, CREATED - 60)
    body = {"event_created": CREATED, "snapshot": ACTIVE, "claim_id": OURS}
    _, first = await _claim(fresh_core, **body)
    assert (first["claimed"], first["updated"], first["completed"]) == (True, True, True)
    _, again = await _claim(fresh_core, **body)
    assert (again["claimed"], again["claim_id"], again["completed"]) == (True, OURS, True)
    assert again["organization"] == first["organization"]
    assert again["watermark"] == first["watermark"]
    assert await event_status(fresh_core, "evt_1") == {"status": "processed", "attempts": 1}


async def test_a_claim_id_that_is_not_a_random_token_is_400(fresh_core: Core) -> None:
    for bad in ("short", "x" * 129, "has space in it 0123", "../../etc/passwd/0123"):
        status, reply = await _claim(fresh_core, claim_id=bad)
        assert status == 400, bad
        assert reply["error"]["code"] == "invalid_request"


async def test_applying_an_organization_sent_again_after_it_completed_answers_completed(
    fresh_core: Core,
) -> None:
    org_id = await connected_org(fresh_core)
    await synced(fresh_core, org_id, PENDING, CREATED - 60)
    await _claim(fresh_core, claim_id=OURS)
    body = {
        "event_id": "evt_1",
        "claim_id": OURS,
        "organization_id": org_id,
        "fields": ACTIVE,
        "event_created": CREATED,
    }
    status, first = await fresh_core.post("webhook-events/apply-organization", body)
    assert (status, first["updated"], first["completed"]) == (200, True, True)
    status, again = await fresh_core.post("webhook-events/apply-organization", body)
    assert (status, again["completed"]) == (200, True)
    assert again["organization"] == first["organization"]
    other = {**body, "claim_id": "someone-else-0123456"}
    status, lost = await fresh_core.post("webhook-events/apply-organization", other)
    assert (status, lost["error"]["code"]) == (409, "claim_lost")
