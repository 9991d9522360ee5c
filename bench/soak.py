"""`make soak`: a bounded load run on loopback, then an audit of D1 against what was sent.

    python -m bench.soak      (SOAK_REQUESTS=100000 SOAK_SECONDS=120 SOAK_CONCURRENCY=16
                               SOAK_REPLICAS=2 SOAK_SEED=1)

Starts the stack as real processes (Worker host over a fresh SQLite D1, the Stripe fake, and
`SOAK_REPLICAS` backend replicas), onboards a few organizations, then fires a fixed mix at the
replicas round-robin until `SOAK_REQUESTS` are sent or `SOAK_SECONDS` pass:

- 60 % status reads (`GET /api/connect/status/{org}`),
- 20 % transfers (`POST /api/connect/transfer` of a payment made for the org before the run — a
  PaymentIntent succeeded at the fake; one in five repeats an earlier Idempotency-Key),
- 20 % signed webhooks (`account.updated`, `payout.*` with shuffled `created`; one in four a
  duplicate of an event already sent).

It prints requests held, error rate and p50/p99 latency per kind, then audits: every webhook
event processed exactly once, every Idempotency-Key one ledger row and one Stripe transfer,
retries answered with the first result, money in the ledger equal to money at Stripe, each
payout at its newest state. Exit status 1 when any request failed or any audit line fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.procs import PYTHON, Server
from bench.soak_events import account_updated, payout_event, sign
from bench.stack import (
    FAKE_API_KEY,
    Secrets,
    backend_env,
    create_paid_payment,
    http_json,
    seed_organizations,
    seed_principal,
    worker_host_server,
)
from bench.webhooks import percentile
from devstack.ports import free_port

ORGS = 4


@dataclass(frozen=True, slots=True)
class Config:
    requests: int
    seconds: float
    concurrency: int
    replicas: int
    seed: int

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ
        return cls(
            requests=int(env.get("SOAK_REQUESTS", "100000")),
            seconds=float(env.get("SOAK_SECONDS", "120")),
            concurrency=int(env.get("SOAK_CONCURRENCY", "16")),
            replicas=int(env.get("SOAK_REPLICAS", "2")),
            seed=int(env.get("SOAK_SEED", "1")),
        )


@dataclass
class Stack:
    d1_path: Path
    secrets: Secrets
    token: str
    org_ids: list[str]
    account_ids: list[str]
    backend_urls: list[str]
    stripe_url: str


@contextmanager
def start_stack(config: Config, log_dir: Path) -> Iterator[Stack]:
    """Worker host, Stripe fake and the backend replicas as OS processes; stopped on exit."""
    d1_path = log_dir / "d1.sqlite3"
    keys = Secrets.generate()
    principal = seed_principal(d1_path, secret=keys.better_auth)
    others = seed_organizations(d1_path, count=ORGS - 1, owner_id=principal.user_id)
    worker_port, stripe_port = free_port(), free_port()
    worker_url, stripe_url = f"http://127.0.0.1:{worker_port}", f"http://127.0.0.1:{stripe_port}"
    servers = [
        worker_host_server(
            "worker-host", worker_port, d1_path=d1_path, keys=keys, cpu=None, log_dir=log_dir
        ),
        Server(
            "stripe-fake",
            [PYTHON, "-m", "stripe_fake"],
            env={
                "STRIPE_FAKE_PORT": str(stripe_port),
                "STRIPE_FAKE_API_KEYS": FAKE_API_KEY,
                "STRIPE_FAKE_WEBHOOK_URL": "",  # the soak sends its own signed events
                "STRIPE_FAKE_WEBHOOK_SECRET": keys.webhook,
            },
            cpu=None,
            log_dir=log_dir,
            health_url=f"{stripe_url}/_fake/webhooks/deliveries",
        ),
    ]
    backend_urls = []
    for n in range(config.replicas):
        port = free_port()
        backend_urls.append(f"http://127.0.0.1:{port}")
        servers.append(
            Server(
                f"backend-{n}",
                [PYTHON, "-m", "backend"],
                env=backend_env(
                    port,
                    keys=keys,
                    worker_url=worker_url,
                    stripe_url=stripe_url,
                    STRIPE_MAX_NETWORK_RETRIES="0",
                    # One principal stands in for the many users of a real load: the per-user,
                    # per-organization and user-budget limits would measure themselves.
                    RATE_LIMIT_USER_PER_MINUTE="0",
                    RATE_LIMIT_ORGANIZATION_PER_MINUTE="0",
                    STRIPE_USER_BUDGET_PER_SECOND="0",
                ),
                cpu=None,
                log_dir=log_dir,
                health_url=f"http://127.0.0.1:{port}/healthz",
            )
        )
    started: list[Server] = []
    try:
        for server in servers:
            server.start()
            started.append(server)
        yield Stack(
            d1_path=d1_path,
            secrets=keys,
            token=principal.token,
            org_ids=[principal.organization_id, *others],
            account_ids=[],
            backend_urls=backend_urls,
            stripe_url=stripe_url,
        )
    finally:
        for server in reversed(started):
            server.stop()


def onboard_all(stack: Stack) -> None:
    """Each org: onboard through the backend, finish onboarding at the fake, deliver the event."""
    auth = {"Authorization": f"Bearer {stack.token}"}
    backend = stack.backend_urls[0]
    for n, org_id in enumerate(stack.org_ids):
        status, body = http_json(
            "POST",
            f"{backend}/api/connect/onboard",
            headers=auth,
            json_body={"organization_id": org_id},
        )
        if status != 200:
            raise RuntimeError(f"onboarding failed: {status} {body}")
        account_id = body["account_id"]
        stack.account_ids.append(account_id)
        http_json("POST", f"{stack.stripe_url}/_fake/accounts/{account_id}/complete-onboarding")
        payload = account_updated(f"evt_soak_setup_{n}", account_id, created=int(time.time()))
        status, body = _post_raw(
            f"{backend}/api/connect/webhook", payload, sign(payload, stack.secrets.webhook)
        )
        if status != 200:
            raise RuntimeError(f"activation webhook failed: {status} {body}")


def pay_orgs(stack: Stack, count: int, seed: int) -> dict[str, list[tuple[str, int]]]:
    """`count` customer payments spread over the orgs, made before the run (not timed): what the
    run's transfers pay out, one payment each."""
    rng = random.Random(seed)
    wanted = [
        (stack.org_ids[n % len(stack.org_ids)], rng.randrange(100, 100_000)) for n in range(count)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        charges = list(
            pool.map(lambda w: create_paid_payment(stack.stripe_url, w[0], w[1]), wanted)
        )
    payments: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (org_id, amount), charge in zip(wanted, charges, strict=True):
        payments[org_id].append((charge, amount))
    return payments


def _post_raw(url: str, payload: bytes, signature: str) -> tuple[int, Any]:
    """A webhook POST of exactly these bytes (the signature covers the raw body)."""
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
    request = urllib.request.Request(url, data=payload, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


@dataclass
class Plan:
    """What was sent, so the audit can hold D1 and Stripe to it."""

    events: dict[str, bytes] = field(default_factory=dict)
    newest_payout: dict[str, tuple[int, str]] = field(default_factory=dict)
    transfers: dict[tuple[str, str], int] = field(default_factory=dict)  # (org, key) → amount
    sources: dict[tuple[str, str], str] = field(default_factory=dict)  # (org, key) → charge
    transfer_ids: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    refused_events: set[str] = field(default_factory=set)


@dataclass
class Result:
    kind: str
    status: int
    ms: float


class Load:
    def __init__(
        self, stack: Stack, config: Config, payments: dict[str, list[tuple[str, int]]]
    ) -> None:
        self.stack = stack
        self.config = config
        self.payments = payments
        self.rng = random.Random(config.seed)
        self.plan = Plan()
        self.results: list[Result] = []
        self._n = 0
        self._created = 1_800_000_000
        self._payout_times: dict[str, set[int]] = defaultdict(set)

    def _next_request(self) -> tuple[str, str, str, dict[str, str], bytes | dict[str, Any] | None]:
        """(kind, method, url, headers, body) for the next request of the mix."""
        self._n += 1
        rng = self.rng
        base = self.stack.backend_urls[self._n % len(self.stack.backend_urls)]
        auth = {"Authorization": f"Bearer {self.stack.token}"}
        slot = rng.randrange(100)
        org_index = rng.randrange(len(self.stack.org_ids))
        org_id = self.stack.org_ids[org_index]
        if slot < 60 or (slot < 80 and not self.plan.transfers and not self.payments.get(org_id)):
            return "status", "GET", f"{base}/api/connect/status/{org_id}", auth, None
        if slot < 80 and (self.payments.get(org_id) or self.plan.transfers):
            if not self.payments.get(org_id) or (self.plan.transfers and rng.randrange(5) == 0):
                org_id, key = rng.choice(list(self.plan.transfers))
                charge = self.plan.sources[(org_id, key)]
                kind = "transfer-retry"
            else:
                key = f"soak-{self._n}"
                charge, amount = self.payments[org_id].pop()
                self.plan.transfers[(org_id, key)] = amount
                self.plan.sources[(org_id, key)] = charge
                kind = "transfer"
            body = {"organization_id": org_id, "source_transaction": charge}
            return (
                kind,
                "POST",
                f"{base}/api/connect/transfer",
                {**auth, "Idempotency-Key": key},
                body,
            )
        if self.plan.events and rng.randrange(4) == 0:
            event_id = rng.choice(list(self.plan.events))
            return (
                "webhook-dup",
                "POST",
                f"{base}/api/connect/webhook",
                {},
                self.plan.events[event_id],
            )
        account_id = self.stack.account_ids[org_index]
        event_id = f"evt_soak_{self._n}"
        self._created += 1
        created = self._created + rng.randrange(-50, 50)  # out of order
        if rng.randrange(2) == 0:
            payload = account_updated(event_id, account_id, created=created)
        else:
            payout_id = f"po_soak_{org_index}_{rng.randrange(20)}"
            while created in self._payout_times[payout_id]:  # ties would make "newest" moot
                created += 1
            self._payout_times[payout_id].add(created)
            status = rng.choice(["pending", "in_transit", "paid", "failed"])
            payload = payout_event(
                event_id,
                f"payout.{'updated' if status in ('pending', 'in_transit') else status}",
                account_id=account_id,
                payout_id=payout_id,
                status=status,
                amount=5_000,
                created=created,
            )
            newest = self.plan.newest_payout.get(payout_id)
            if newest is None or created >= newest[0]:
                self.plan.newest_payout[payout_id] = (created, status)
        self.plan.events[event_id] = payload
        return "webhook", "POST", f"{base}/api/connect/webhook", {}, payload

    async def run(self) -> float:
        deadline = time.monotonic() + self.config.seconds
        connector = aiohttp.TCPConnector(limit=self.config.concurrency * 2)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def one() -> None:
                while self._n < self.config.requests and time.monotonic() < deadline:
                    kind, method, url, headers, body = self._next_request()
                    await self._send(session, kind, method, url, headers, body)

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(self.config.concurrency)))
            wall = time.perf_counter() - started
            # Stripe would retry whatever was refused; do so now, until each lands.
            for event_id in sorted(self.plan.refused_events):
                for _ in range(50):
                    status = await self._send(
                        session, "webhook-redelivery", "POST",
                        f"{self.stack.backend_urls[0]}/api/connect/webhook", {},
                        self.plan.events[event_id],
                    )  # fmt: skip
                    if status == 200:
                        break
                    await asyncio.sleep(0.2)
        return wall

    async def _send(
        self,
        session: aiohttp.ClientSession,
        kind: str,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | dict[str, Any] | None,
    ) -> int:
        started = time.perf_counter()
        status = 0
        try:
            if isinstance(body, bytes):
                headers = {
                    "Content-Type": "application/json",
                    "Stripe-Signature": sign(body, self.stack.secrets.webhook),
                }
                request = session.post(url, data=body, headers=headers)
            else:
                request = session.request(method, url, json=body, headers=headers)
            async with request as response:
                status = response.status
                payload = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            payload = None
        self.results.append(Result(kind, status, (time.perf_counter() - started) * 1000))
        if kind.startswith("transfer") and status == 201 and isinstance(payload, dict):
            org_key = (str(payload["organization_id"]), str(payload["idempotency_key"]))
            self.plan.transfer_ids[org_key].add(str(payload["stripe_transfer_id"]))
        if kind.startswith("webhook") and isinstance(body, bytes):
            event_id = json.loads(body)["id"]
            if status == 200:
                self.plan.refused_events.discard(event_id)
            elif kind != "webhook-redelivery":
                self.plan.refused_events.add(event_id)
        return status


def _ok(result: Result) -> bool:
    if result.kind.startswith("webhook"):
        # 409: another replica holds this event right now — Stripe retries; not an error.
        return result.status in (200, 409)
    return result.status in (200, 201)


def _stripe_transfers(stack: Stack) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        query = "limit=100" + (f"&starting_after={after}" if after else "")
        status, page = http_json(
            "GET",
            f"{stack.stripe_url}/v1/transfers?{query}",
            headers={"Authorization": f"Bearer {FAKE_API_KEY}"},
        )
        if status != 200:
            raise RuntimeError(f"listing transfers failed: {status}")
        found.extend(page["data"])
        if not page["has_more"]:
            return found
        after = page["data"][-1]["id"]


def audit(stack: Stack, load: Load) -> list[tuple[bool, str]]:
    conn = sqlite3.connect(stack.d1_path)
    conn.row_factory = sqlite3.Row
    try:
        events = {
            r["event_id"]: dict(r)
            for r in conn.execute(
                'SELECT * FROM "connect_webhook_event" WHERE "event_id" LIKE \'evt_soak_%\' '
                "AND \"event_id\" NOT LIKE 'evt_soak_setup_%'"
            )
        }
        ledger = [dict(r) for r in conn.execute('SELECT * FROM "connect_transfer"')]
        payouts = {
            r["stripe_payout_id"]: r["status"]
            for r in conn.execute('SELECT * FROM "connect_payout"')
        }
    finally:
        conn.close()
    plan = load.plan
    sent = set(plan.events)
    lines: list[tuple[bool, str]] = []
    processed_once = all(
        events.get(e, {}).get("status") == "processed" and events[e]["attempts"] == 1 for e in sent
    )
    lines.append(
        (
            set(events) == sent and processed_once,
            f"webhook events: {len(sent)} distinct sent, {len(events)} in D1, "
            f"{sum(1 for e in events.values() if e['status'] == 'processed')} processed, "
            f"{sum(1 for e in events.values() if e['attempts'] != 1)} applied more than once",
        )
    )
    keys = set(plan.transfers)
    ledger_keys = Counter((r["organization_id"], r["idempotency_key"]) for r in ledger)
    succeeded = [r for r in ledger if r["status"] == "succeeded"]
    lines.append(
        (
            set(ledger_keys) == keys
            and max(ledger_keys.values(), default=1) == 1
            and len(succeeded) == len(keys),
            f"transfers: {len(keys)} Idempotency-Keys sent, {len(ledger)} ledger rows, "
            f"{len(succeeded)} succeeded",
        )
    )
    replay_mismatch = [k for k, ids in plan.transfer_ids.items() if len(ids) != 1]
    lines.append(
        (
            not replay_mismatch,
            f"retried keys answered with the first transfer: "
            f"{len(plan.transfer_ids) - len(replay_mismatch)}/{len(plan.transfer_ids)}",
        )
    )
    at_stripe = _stripe_transfers(stack)
    ledger_ids = {r["stripe_transfer_id"] for r in succeeded}
    lines.append(
        (
            {t["id"] for t in at_stripe} == ledger_ids and len(at_stripe) == len(ledger_ids),
            f"Stripe transfers: {len(at_stripe)} at Stripe, {len(ledger_ids)} in the ledger, "
            f"{len({t['id'] for t in at_stripe} ^ ledger_ids)} unmatched",
        )
    )
    net_ledger = sum(r["net_amount"] for r in succeeded)
    net_stripe = sum(t["amount"] for t in at_stripe)
    gross_ok = all(r["fee_amount"] + r["net_amount"] == r["gross_amount"] for r in ledger)
    lines.append(
        (
            net_ledger == net_stripe and gross_ok,
            f"money: {net_ledger} moved per the ledger, {net_stripe} per Stripe (minor units); "
            f"fee + net = gross on every row",
        )
    )
    stale = {p: s for p, (_, s) in plan.newest_payout.items() if payouts.get(p) != s}
    lines.append(
        (
            not stale,
            f"payouts: {len(plan.newest_payout)} tracked, {len(stale)} not at their newest state",
        )
    )
    return lines


def _row(kind: str, results: list[Result]) -> str:
    ms = [r.ms for r in results]
    statuses = dict(sorted(Counter(r.status for r in results).items()))
    p50, p99 = percentile(ms, 0.5), percentile(ms, 0.99)
    return f"{kind:<20}{len(results):>8}{p50:>10.1f}{p99:>10.1f}  {statuses}"


def report(config: Config, load: Load, wall: float) -> bool:
    results = load.results
    failed = [r for r in results if not _ok(r)]
    rate = len(results) / wall if wall > 0 else 0.0
    print(
        f"\nsoak: {len(results)} requests in {wall:.1f} s over {config.replicas} replicas, "
        f"{config.concurrency} concurrent -> {rate:.0f} req/s held"
    )
    share = 100 * len(failed) / max(1, len(results))
    detail = f"  statuses {dict(Counter(r.status for r in failed))}" if failed else ""
    print(f"errors: {len(failed)} ({share:.2f} %){detail}")
    print(f"{'kind':<20}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}  statuses")
    kinds: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        kinds[r.kind].append(r)
    for kind in sorted(kinds):
        print(_row(kind, kinds[kind]))
    print(_row("all", results))
    return not failed


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through `start_stack`, which stops every server


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    config = Config.from_env()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        log_dir = Path(tmp)
        with start_stack(config, log_dir) as stack:
            onboard_all(stack)
            # Enough for the transfers the run can send (20 % of it, minus retries), within what
            # its time bound allows at ~1,000 req/s.
            expected = min(config.requests, int(config.seconds * 1_000))
            payments = pay_orgs(stack, int(expected * 0.17) + 2 * len(stack.org_ids), config.seed)
            load = Load(stack, config, payments)
            wall = asyncio.run(load.run())
            requests_ok = report(config, load, wall)
            print("\naudit of D1 (and the Stripe fake) against what was sent:")
            lines = audit(stack, load)
        for ok, line in lines:
            print(f"  {'PASS' if ok else 'FAIL'}  {line}")
    passed = requests_ok and all(ok for ok, _ in lines)
    print(f"\nsoak {'passed' if passed else 'FAILED'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
