"""History cursors are sealed (backend/edge/cursors.py): they name a position in one organization's
history of one kind, reveal nothing of the ledger's row ids, and work on every replica that
shares the secret — but nowhere else."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import httpx
import pytest

from backend.core.errors import InvalidRequest
from backend.edge.cursors import CursorCodec, derive_cursor_secret
from tests.fixtures.backend import BackendStack

SECRET = derive_cursor_secret(b"x" * 40)


def test_a_cursor_opens_only_for_its_own_kind_organization_and_secret() -> None:
    codec = CursorCodec(SECRET)
    cursor = codec.encode("t", "org_a", 41)
    assert cursor is not None
    assert len(cursor) <= 64
    assert codec.decode("t", "org_a", cursor) == 41
    assert CursorCodec(SECRET).decode("t", "org_a", cursor) == 41  # another replica, same secret
    assert codec.encode("t", "org_a", 41) == cursor  # the same page, the same cursor
    for kind, org, other in (
        ("t", "org_b", codec),
        ("p", "org_a", codec),
        ("t", "org_a", CursorCodec(derive_cursor_secret(b"y" * 40))),
    ):
        with pytest.raises(InvalidRequest) as info:
            other.decode(kind, org, cursor)
        assert info.value.code == "invalid_cursor"


def test_a_cursor_says_nothing_of_the_row_id_and_cannot_be_forged() -> None:
    codec = CursorCodec(SECRET)
    a, b = codec.encode("t", "org_a", 1000), codec.encode("t", "org_a", 1001)
    assert a is not None
    assert b is not None
    raw_a = base64.urlsafe_b64decode(a + "=" * (-len(a) % 4))
    raw_b = base64.urlsafe_b64decode(b + "=" * (-len(b) % 4))
    assert (1000).to_bytes(8, "big") not in raw_a
    assert b"1000" not in raw_a
    # Neighbouring ids share nothing past the version byte (no counter shows through).
    assert sum(x == y for x, y in zip(raw_a[1:], raw_b[1:], strict=True)) < 8
    for n in range(len(raw_a)):  # every single-bit flip is refused
        flipped = bytearray(raw_a)
        flipped[n] ^= 1
        forged = base64.urlsafe_b64encode(bytes(flipped)).decode().rstrip("=")
        with pytest.raises(InvalidRequest):
            codec.decode("t", "org_a", forged)
    for junk in ("", "!!", "a" * 65, "cDox", "dDox", "\u0661" * 10):
        with pytest.raises(InvalidRequest):
            codec.decode("t", "org_a", junk)


def _seed_payouts(stack: BackendStack, org_id: str, count: int) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    for n in range(count):
        stack.worker.execute(
            'INSERT INTO "connect_payout" ("stripe_payout_id", "organization_id", '
            '"stripe_account_id", "amount", "currency", "status", "updated_at") '
            "VALUES (?, ?, ?, ?, 'usd', 'paid', ?)",
            f"po_{org_id[:8]}_{n}",
            org_id,
            "acct_seeded",
            100 + n,
            now,
        )


async def test_a_cursor_from_one_organization_is_refused_for_another(
    backend_stack: BackendStack, make_backend: Callable[..., BackendStack]
) -> None:
    """Today's cursor was base64 of the global row id: valid on any organization's list (and
    telling how many payouts the platform made in between)."""
    acme, globex = backend_stack.org_id, backend_stack.other_org_id
    _seed_payouts(backend_stack, acme, 3)
    _seed_payouts(backend_stack, globex, 3)
    async with httpx.AsyncClient(base_url=backend_stack.url) as http:
        r = await http.get(
            f"/api/connect/payouts/{acme}?limit=2", headers=backend_stack.auth("member")
        )
        assert r.status_code == 200, r.text
        cursor = r.json()["next_cursor"]
        assert cursor
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        assert b":" not in decoded
        r = await http.get(
            f"/api/connect/payouts/{globex}",
            params={"limit": 2, "cursor": cursor},
            headers=backend_stack.auth("outsider"),  # globex's owner
        )
        assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_cursor")
        r = await http.get(
            f"/api/connect/transfers/{acme}",
            params={"cursor": cursor},
            headers=backend_stack.auth("member"),
        )
        assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_cursor")
    # Another replica with the same configuration continues the listing.
    replica = make_backend(webhooks=False)
    async with httpx.AsyncClient(base_url=replica.url) as http:
        r = await http.get(
            f"/api/connect/payouts/{acme}",
            params={"limit": 2, "cursor": cursor},
            headers=backend_stack.auth("member"),
        )
        assert r.status_code == 200, r.text
        assert [p["amount"] for p in r.json()["payouts"]] == [100]
    # A replica with its own HISTORY_CURSOR_SECRET does not accept the first's cursors.
    sealed_apart = make_backend(env={"HISTORY_CURSOR_SECRET": "s" * 40}, webhooks=False)
    async with httpx.AsyncClient(base_url=sealed_apart.url) as http:
        r = await http.get(
            f"/api/connect/payouts/{acme}",
            params={"cursor": cursor},
            headers=backend_stack.auth("member"),
        )
        assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_cursor")
