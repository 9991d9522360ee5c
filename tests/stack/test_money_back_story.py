"""The issue's story on the real stack (`make dev`'s processes: the Worker host on SQLite, the
Stripe fake, the backend, the auth app), over HTTP as an owner, the platform and the card network
would drive it: a full refund after a transfer puts the platform back where it was and "pay out
now" cannot pay the reversed money; a partial refund ends with nothing owed; a won dispute
transfers the money again once, a lost one does not."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.parts import STRIPE_FAKE_API_KEY
from devstack.stack_config import DemoState, LocalSecrets
from tests.stack.procs import RunningStack


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[DemoState, LocalSecrets]]:
    state_dir = tmp_path / "devstack"
    stack = RunningStack.start(state_dir)
    try:
        state = stack.wait_up()
        yield state, LocalSecrets.load_or_create(state_dir / "secrets.json")
        assert stack.stop() == 0
    finally:
        stack.kill_tree()


class Story:
    def __init__(self, state: DemoState, secrets: LocalSecrets, http: httpx.AsyncClient) -> None:
        self.state, self.secrets, self.http = state, secrets, http
        self.org = state.organization_id
        self.owner = {"Authorization": f"Bearer {state.token}"}
        self.fake = state.stripe_fake_url or ""

    async def call(self, method: str, url: str, **kw: Any) -> Any:
        r = await self.http.request(method, url, **kw)
        assert r.status_code < 300, f"{method} {url}: {r.status_code} {r.text}"
        return r.json()

    async def stripe(self, method: str, path: str, **kw: Any) -> Any:
        auth = {"Authorization": f"Bearer {STRIPE_FAKE_API_KEY}", **kw.pop("headers", {})}
        return await self.call(method, f"{self.fake}/v1/{path}", headers=auth, **kw)

    async def until(self, check: Callable[[], Awaitable[bool]], what: str) -> None:
        deadline = time.monotonic() + 20
        while not await check():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.1)

    async def platform_balance(self) -> int:
        balance = await self.stripe("GET", "balance")
        return sum(b["amount"] for b in [*balance["available"], *balance["pending"]])

    async def onboarded(self) -> str:
        link = await self.call(
            "POST",
            f"{self.state.backend_url}/api/connect/onboard",
            json={"organization_id": self.org},
            headers=self.owner,
        )
        account: str = link["account_id"]
        await self.call("POST", f"{self.fake}/_fake/accounts/{account}/complete-onboarding")

        async def active() -> bool:
            status = await self.call(
                "GET", f"{self.state.backend_url}/api/connect/status/{self.org}", headers=self.owner
            )
            return bool(status["stripe_connect_status"] == "active")

        await self.until(active, "the organization active")
        return account

    async def sale(self, amount: int) -> str:
        """The platform's checkout, paid by the customer; the charge once the backend knows it."""
        intent = await self.call(
            "POST",
            f"{self.state.backend_url}/api/platform/payment-intents",
            json={"organization_id": self.org, "amount": amount, "currency": "usd"},
            headers={
                "X-Platform-Key": self.secrets.platform_api_key,
                "Idempotency-Key": f"sale-{uuid.uuid4()}",
            },
        )
        paid = await self.call(
            "POST", f"{self.fake}/_fake/payment_intents/{intent['payment_intent_id']}/succeed"
        )
        charge: str = paid["latest_charge"]
        return charge

    async def transfer(self, charge: str, **body: Any) -> httpx.Response:
        return await self.http.post(
            f"{self.state.backend_url}/api/connect/transfer",
            json={"organization_id": self.org, "source_transaction": charge, **body},
            headers={**self.owner, "Idempotency-Key": f"t-{uuid.uuid4()}"},
        )

    async def returns(self) -> list[dict[str, Any]]:
        page = await self.call(
            "GET", f"{self.state.backend_url}/api/connect/returns/{self.org}", headers=self.owner
        )
        rows: list[dict[str, Any]] = page["returns"]
        return rows

    async def settled_returns(self, n: int) -> list[dict[str, Any]]:
        async def ready() -> bool:
            rows = await self.returns()
            return len(rows) >= n and all(r["status"] != "pending" for r in rows)

        await self.until(ready, f"{n} return(s) settled")
        return await self.returns()

    async def owed(self) -> list[dict[str, Any]]:
        debts = await self.call(
            "GET", f"{self.state.backend_url}/api/connect/debts/{self.org}", headers=self.owner
        )
        owed: list[dict[str, Any]] = debts["owed"]
        return owed


async def test_the_money_back_story_on_the_real_stack(
    running: tuple[DemoState, LocalSecrets],
) -> None:
    state, secrets = running
    async with httpx.AsyncClient(timeout=30.0) as http:
        story = Story(state, secrets, http)
        account = await story.onboarded()

        # 1. Full refund after a full transfer: the platform is back where it was.
        before = await story.platform_balance()
        charge = await story.sale(10_000)
        first = await story.transfer(charge)
        assert first.status_code == 201, first.text
        transfer_id = first.json()["stripe_transfer_id"]
        await story.stripe("POST", "refunds", data={"charge": charge})
        [reversal] = await story.settled_returns(1)
        assert (reversal["amount"], reversal["status"]) == (9_000, "done")
        assert await story.platform_balance() == before  # the fake takes no Stripe fees
        transfer = await story.stripe("GET", f"transfers/{transfer_id}")
        assert transfer["amount_reversed"] == 9_000
        payout = await http.post(
            f"{state.backend_url}/api/connect/payout",
            json={"organization_id": story.org, "currency": "usd"},
            headers={**story.owner, "Idempotency-Key": "pay-out-now"},
        )
        assert payout.status_code >= 400, payout.text  # nothing left to pay out

        # 2. Partial: 100.00 paid, 50.00 transferred (45.00 net), 80.00 refunded → 27.00 back.
        charge = await story.sale(10_000)
        assert (await story.transfer(charge, amount=5_000)).status_code == 201
        await story.stripe("POST", "refunds", data={"charge": charge, "amount": 8_000})
        rows = await story.settled_returns(2)
        assert rows[0]["amount"] == 2_700
        assert await story.owed() == []

        # 3. Disputes: won → transferred again once; lost → stays reversed.
        won = await story.sale(10_000)
        assert (await story.transfer(won)).status_code == 201
        lost = await story.sale(10_000)
        assert (await story.transfer(lost)).status_code == 201
        won_dispute = await story.call("POST", f"{story.fake}/_fake/charges/{won}/dispute", json={})
        lost_dispute = await story.call(
            "POST", f"{story.fake}/_fake/charges/{lost}/dispute", json={}
        )
        await story.settled_returns(4)
        refused = await story.transfer(won)
        assert refused.json()["error"]["code"] == "source_disputed"
        for dispute, status in ((won_dispute, "won"), (lost_dispute, "lost")):
            await story.call(
                "POST",
                f"{story.fake}/_fake/disputes/{dispute['id']}/close",
                json={"status": status},
            )
        rows = await story.settled_returns(5)
        again = [r for r in rows if r["kind"] == "reinstatement"]
        assert [(r["source_transaction"], r["amount"]) for r in again] == [(won, 9_000)]
        await asyncio.sleep(1.0)  # late or repeated deliveries would show up by now
        assert len(await story.returns()) == 5
        transfers = await story.stripe("GET", "transfers", params={"destination": account})
        assert sum(1 for t in transfers["data"] if t["source_transaction"] == won) == 2
        assert sum(1 for t in transfers["data"] if t["source_transaction"] == lost) == 1
