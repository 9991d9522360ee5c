"""The backend's story over a platform's own Better Auth database (plural tables with snake_case
columns; serial ids), made by real Better Auth: the library's sign-in token → onboard →
`account.updated` → payment → transfer → payout, through the real backend, Worker host and
Stripe fake — as `make demo` walks it over Better Auth's defaults."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from connect_worker.config import load_config

from devstack import seed
from devstack.worker_host import serve_in_thread
from tests.backend.conftest import activate, eventually
from tests.fixtures.backend import BackendStack
from tests.fixtures.platform_auth import PlatformAuth
from tests.fixtures.worker import SeededMember, ShiftableClock, WorkerStack


@pytest.fixture(params=["plural_snake", "serial"])
def platform_worker(
    request: pytest.FixtureRequest,
    platform_auth: Callable[[str], PlatformAuth],
    tmp_path: Path,
) -> Iterator[WorkerStack]:
    """The Worker host over the platform's database, as a `WorkerStack` the backend fixtures take:
    alice (owner of acme) is every role's caller; carol's org is the other organization."""
    platform = platform_auth(request.param)
    v = platform.values
    api_key = secrets.token_urlsafe(48)
    env = {
        "INTERNAL_API_KEYS": f"v1:{api_key}",
        "BETTER_AUTH_SECRET": v["secret"],
        "BETTER_AUTH_SCHEMA": platform.description,
    }
    config = load_config(env)
    db_path = platform.copy_to(tmp_path)
    # Alice has verified her email (onboarding asks for it), under the platform's own names: the
    # Worker reads `emailVerified` through the description like every other column.
    user = config.auth_schema
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            f'UPDATE "{user.table("user")}" SET "{user.column("user", "emailVerified")}" = 1 '
            f'WHERE "{user.column("user", "id")}" = ?',
            (v["user_id"],),
        )
    conn.close()
    hosted = serve_in_thread(config, db_path)
    session = seed.SeededSession(
        session_id=v["session_id"],
        user_id=v["user_id"],
        token=v["raw_token"],
        signed_token=v["signed_token"],
        signed_token_urlencoded=quote(v["signed_token"], safe=""),
        expires_at=v["session_expires_at"],
    )
    alice = SeededMember(v["user_id"], "Alice", "alice@example.com", "owner", v["org_id"], session)
    try:
        yield WorkerStack(
            url=hosted.url,
            api_key=api_key,
            api_keys={"v1": api_key},
            secret=v["secret"],
            env=env,
            config=config,
            db_path=db_path,
            db=hosted.db,
            clock=ShiftableClock(),
            acme_org_id=v["org_id"],
            globex_org_id=v["other_org_id"],
            owner=alice,
            admin=alice,
            member=alice,
            outsider=alice,
            headers={"X-API-Key": api_key},
        )
    finally:
        hosted.stop()
        hosted.db.close()


async def test_the_story_runs_over_the_platforms_own_better_auth(
    make_backend: Callable[..., BackendStack], platform_worker: WorkerStack
) -> None:
    stack = make_backend(worker=platform_worker)
    org = stack.org_id
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        context = await client.get(f"/api/connect/status/{org}", headers=stack.auth("owner"))
        assert context.status_code == 200, context.text
        await activate(client, stack)
        charge = await stack.stripe.paid(org, 20_000)
        sent = await client.post(
            "/api/connect/transfer",
            json={"organization_id": org, "source_transaction": charge},
            headers=stack.auth("owner", Idempotency_Key="platform-story-1"),
        )
        assert sent.status_code == 201, sent.text
        assert (sent.json()["fee_amount"], sent.json()["net_amount"]) == (2_000, 18_000)

        async def available() -> bool:
            balance = await client.get(f"/api/connect/balance/{org}", headers=stack.auth())
            return {"amount": 18_000, "currency": "usd"} in balance.json()["available"]

        await eventually(available, what="the transferred amount available")
        payout = await client.post(
            "/api/connect/payout",
            json={"organization_id": org, "currency": "usd"},
            headers=stack.auth("owner", Idempotency_Key="platform-payout-1"),
        )
        assert payout.status_code in (200, 201), payout.text
        assert payout.json()["amount"] == 18_000
        # Another platform organization's money is not reachable with alice's token.
        other = await client.get(
            f"/api/connect/status/{stack.other_org_id}", headers=stack.auth("owner")
        )
        assert other.status_code == 403, other.text
