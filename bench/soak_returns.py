"""The soak's money-back phase: payments refunded (in full or in part, before and after their
transfer and its payout) and disputed (won, lost) at random, with Stripe's events delivered by the
fake itself — each one twice and every batch in reverse order — and some of them again to another
replica at the same time. Then it waits until every event has landed and audits each payment:

- what the organization kept of it equals its share of (amount − refunded − lost to a dispute)
  less the fee, within one minor unit (the platform's rounding): read from Stripe's transfers and
  reversals, less what D1 says it still owes;
- the ledger equals Stripe's objects: every reversal and reinstatement row that Stripe answered
  names a Stripe object of its amount, and every reversal at Stripe is one row's;
- nothing happened twice: one Stripe reversal per row, one reinstatement per won dispute, every
  delivered event processed once.

    SOAK_RETURNS=24 (payments), SOAK_RETURNS_SECONDS=60 (bound on the phase and its wait)
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from backend.ledger.return_flow import HELD
from backend.webhooks.webhook_handlers import HANDLERS
from bench.soak_events import sign
from bench.soak_returns_audit import Payment, audit_events, audit_returns
from bench.stack import FAKE_API_KEY, Secrets, create_paid_payment, http_json


class StackLike(Protocol):
    d1_path: Path
    token: str
    org_ids: list[str]
    backend_urls: list[str]
    stripe_url: str
    secrets: Secrets


@dataclass(frozen=True, slots=True)
class ReturnsConfig:
    payments: int
    seconds: float
    seed: int

    @classmethod
    def from_env(cls, seed: int) -> ReturnsConfig:
        env = os.environ
        return cls(
            payments=int(env.get("SOAK_RETURNS", "24")),
            seconds=float(env.get("SOAK_RETURNS_SECONDS", "60")),
            seed=seed,
        )


@dataclass
class Story:
    """What was done to one payment, in order (for the report when its audit fails)."""

    org_id: str
    charge: str
    amount: int
    steps: list[str] = field(default_factory=list)
    dispute: str | None = None


def _stripe(stack: StackLike, method: str, path: str, form: dict[str, str] | None = None) -> Any:
    status, body = http_json(
        method,
        f"{stack.stripe_url}{path}",
        headers={"Authorization": f"Bearer {FAKE_API_KEY}"},
        form=form,
    )
    if status != 200:
        raise RuntimeError(f"Stripe {method} {path}: {status} {body}")
    return body


def _backend(stack: StackLike, path: str, body: dict[str, Any], key: str) -> tuple[int, Any]:
    auth = {"Authorization": f"Bearer {stack.token}", "Idempotency-Key": key}
    return http_json("POST", f"{stack.backend_urls[0]}{path}", headers=auth, json_body=body)


class Driver:
    """Runs one payment's random story; each step is a real call (backend or Stripe fake)."""

    def __init__(self, stack: StackLike, rng: random.Random) -> None:
        self.stack = stack
        self.rng = rng

    def story(self, n: int) -> Story:
        rng = random.Random(self.rng.random())
        org_id = self.stack.org_ids[n % len(self.stack.org_ids)]
        amount = rng.randrange(1_000, 50_000)
        charge = create_paid_payment(self.stack.stripe_url, org_id, amount)
        story = Story(org_id, charge, amount)
        steps: list[Callable[[Story, random.Random], None]] = []
        transfer = rng.random() < 0.85
        if transfer:
            steps.append(self._transfer)
            if rng.random() < 0.4:
                steps.append(self._pay_out)
        for _ in range(rng.choice((0, 1, 1, 2))):
            # Mostly after the transfer (and its payout): the cases that move money back.
            late = rng.random() < 0.65
            steps.insert(len(steps) if late else rng.randrange(len(steps) + 1), self._refund)
        if rng.random() < 0.35:
            steps.insert(rng.randrange(len(steps) + 1), self._dispute)
        self._wait_for_payment(charge)
        for step in steps:
            step(story, rng)
            time.sleep(rng.random() * 0.05)  # let some events land between steps, not all
        if story.dispute is not None:
            outcome = rng.choice(("won", "lost"))
            http_json("POST", f"{self.stack.stripe_url}/_fake/disputes/{story.dispute}/close",
                      json_body={"status": outcome})  # fmt: skip
            story.steps.append(f"dispute {outcome}")
        return story

    def _wait_for_payment(self, charge: str) -> None:
        """The transfer route needs the payment in D1 (`payment_intent.succeeded` delivered)."""
        until = time.monotonic() + 20
        while time.monotonic() < until:
            with sqlite3.connect(self.stack.d1_path) as conn:
                row = conn.execute(
                    'SELECT 1 FROM "connect_payment" WHERE "charge_id" = ?', (charge,)
                ).fetchone()
            if row is not None:
                return
            time.sleep(0.05)
        raise RuntimeError(f"payment {charge} never reached D1")

    def _transfer(self, story: Story, rng: random.Random) -> None:
        status, body = _backend(
            self.stack,
            "/api/connect/transfer",
            {"organization_id": story.org_id, "source_transaction": story.charge},
            f"soak-return-transfer-{story.charge}",
        )
        story.steps.append(f"transfer → {status} {body.get('error', {}).get('code', '')}")

    def _pay_out(self, story: Story, rng: random.Random) -> None:
        status, _ = _backend(
            self.stack,
            "/api/connect/payout",
            {"organization_id": story.org_id, "currency": "usd"},
            f"soak-return-payout-{story.charge}",
        )
        story.steps.append(f"payout of the balance → {status}")

    def _refund(self, story: Story, rng: random.Random) -> None:
        charge = _stripe(self.stack, "GET", f"/v1/charges/{story.charge}")
        left = charge["amount"] - charge["amount_refunded"]
        if left <= 0 or charge["disputed"]:
            story.steps.append("refund skipped (nothing left, or disputed)")
            return
        amount = left if rng.random() < 0.5 else rng.randrange(1, left + 1)
        status, refund = http_json(
            "POST",
            f"{self.stack.stripe_url}/v1/refunds",
            headers={"Authorization": f"Bearer {FAKE_API_KEY}"},
            form={"charge": story.charge, "amount": str(amount)},
        )
        story.steps.append(f"refund {amount} → {status}")
        if status == 200 and rng.random() < 0.2:
            # The card network gives it back later (test card 4000000000005126): money returns.
            time.sleep(rng.random() * 0.1)
            failed, _ = http_json(
                "POST", f"{self.stack.stripe_url}/_fake/refunds/{refund['id']}/fail", json_body={}
            )
            story.steps.append(f"refund failed → {failed}")

    def _dispute(self, story: Story, rng: random.Random) -> None:
        status, body = http_json(
            "POST", f"{self.stack.stripe_url}/_fake/charges/{story.charge}/dispute", json_body={}
        )
        if status == 200:
            story.dispute = str(body["id"])
        story.steps.append(f"dispute opened → {status}")


def _fake_events(stack: StackLike) -> list[dict[str, Any]]:
    status, body = http_json("GET", f"{stack.stripe_url}/_fake/events")
    if status != 200:
        raise RuntimeError(f"listing the fake's events failed: {status}")
    found: list[dict[str, Any]] = body["events"]
    return found


def _redeliver_some(stack: StackLike, rng: random.Random, since: int) -> int:
    """A share of the fake's events sent again, signed, to the other replica: the same event at
    two replicas at once, as Stripe's retries can do."""
    events = _fake_events(stack)[since:]
    chosen = [e for e in events if rng.random() < 0.3]
    target = stack.backend_urls[-1]
    for event in chosen:
        # http_json sends `json.dumps(event)`: the very bytes signed here.
        signature = sign(json.dumps(event).encode(), stack.secrets.webhook)
        http_json(
            "POST",
            f"{target}/api/connect/webhook",
            headers={"Stripe-Signature": signature},
            json_body=event,
        )
    return len(chosen)


def wait_until_delivered(stack: StackLike, deadline: float) -> bool:
    """Until every event the fake made was answered 2xx and no return is still `pending`."""
    while time.monotonic() < deadline:
        waiting = [e for e in _fake_events(stack) if e["pending_webhooks"]]
        with sqlite3.connect(stack.d1_path) as conn:
            pending = conn.execute(
                'SELECT COUNT(*) FROM "connect_return" WHERE "status" = \'pending\''
            ).fetchone()[0]
        if not waiting and not pending:
            return True
        time.sleep(0.2)
    return False


def run_returns_phase(stack: StackLike, config: ReturnsConfig) -> tuple[list[Story], bool, int]:
    """Deliveries on (duplicated, reordered), the stories, the extra redeliveries, the wait."""
    since = len(_fake_events(stack))
    status, _ = http_json(
        "POST",
        f"{stack.stripe_url}/_fake/webhooks",
        json_body={
            "url": f"{stack.backend_urls[0]}/api/connect/webhook",
            "secret": stack.secrets.webhook,
            "duplicate": True,
            "out_of_order": True,
            "retry_base_seconds": 0.2,
            "max_attempts": 8,
        },
    )
    if status != 200:
        raise RuntimeError(f"configuring the fake's webhooks failed: {status}")
    rng = random.Random(config.seed)
    driver = Driver(stack, rng)
    deadline = time.monotonic() + config.seconds
    with ThreadPoolExecutor(max_workers=4) as pool:
        stories = list(pool.map(driver.story, range(config.payments)))
    redelivered = _redeliver_some(stack, rng, since)
    delivered = wait_until_delivered(stack, max(deadline, time.monotonic() + 10))
    return stories, delivered, redelivered


def coverage(stories: list[Story], d1_path: Path) -> str:
    """What the run exercised, so a passing audit is not a vacuous one."""
    seen: Counter[str] = Counter()
    for story in stories:
        done: list[str] = []
        for step in story.steps:
            kind = step.split(" ")[0]
            if kind == "refund" and "→ 200" in step:
                seen["refunds after a payout" if "payout" in done else
                     "refunds after a transfer" if "transfer" in done else
                     "refunds before any transfer"] += 1  # fmt: skip
            if step.startswith("refund failed") and "→ 200" in step:
                seen["refunds failed"] += 1
            if step.startswith("dispute ") and step.split(" ")[1] in ("won", "lost"):
                seen[f"disputes {step.split(' ')[1]}"] += 1
            done.append(kind)
    with sqlite3.connect(d1_path) as conn:
        for kind, status, count in conn.execute(
            'SELECT "kind", "status", COUNT(*) FROM "connect_return" GROUP BY "kind", "status"'
        ):
            seen[f"{kind} rows {status}"] += int(count)
        [held] = conn.execute(
            'SELECT COUNT(*) FROM "connect_return" WHERE "kind" = \'reinstatement\' '
            'AND "idempotency_key" LIKE ?',
            (f"{HELD}:%",),
        ).fetchone()
        seen["reinstatements from the platform's balance"] += int(held)
        debts, recovered = conn.execute(
            'SELECT COUNT(*), SUM("amount_recovered" > 0) FROM "connect_return" '
            'WHERE "attempts" > 1 OR "status" = \'owed\''
        ).fetchone()
    seen["debts (reversals refused once)"] += int(debts)
    seen["debts paid from later transfers"] += int(recovered or 0)
    return ", ".join(f"{n} {what}" for what, n in sorted(seen.items()))


def money_back(stack: StackLike, seed: int) -> list[tuple[bool, str]]:
    """The phase and its audit lines (for `make soak`'s report)."""
    config = ReturnsConfig.from_env(seed)
    since = len(_fake_events(stack))
    stories, delivered, redelivered = run_returns_phase(stack, config)
    handled = [
        e["id"] for e in _fake_events(stack)[since:] if e["type"] in HANDLERS and e.get("id")
    ]
    lines = [
        (
            delivered,
            f"money-back phase: {len(stories)} payments ({coverage(stories, stack.d1_path)}), "
            f"{redelivered} events also sent to another replica; every event delivered and "
            "every return settled in time",
        ),
        audit_events(stack.d1_path, handled),
    ]
    found = audit_returns(
        stack.d1_path, stack.stripe_url, [Payment(s.org_id, s.charge) for s in stories]
    )
    lines += found
    if not all(ok for ok, _ in found):
        for story in stories:
            print(f"  {story.charge} ({story.amount}): {'; '.join(story.steps)}")
    return lines
