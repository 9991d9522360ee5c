"""Webhook ingestion: signed `account.updated` events fired at the backend, then audited in D1.

The bench signs events itself (Stripe's scheme: `t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`
keyed by the whole `whsec_…` string), so it measures the backend's path alone: verify → parse once
→ claim in D1 carrying the event's own account snapshot, which the claim's batch applies and
completes (docs/reliability.md, "Ordering account events").
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import sqlite3
import statistics
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from backend.worker_side.http_pool import Http1Pool, TransportError
from bench.soak_events import payout_event, transfer_event


def signature_header(payload: bytes, secret: str, *, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def account_updated_event(event_id: str, account: Mapping[str, Any], *, created: int) -> bytes:
    """A Connect `account.updated` event as Stripe sends it (`account` names the connected one)."""
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "account": account["id"],
        "created": created,
        "data": {"object": dict(account), "previous_attributes": {}},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "account.updated",
    }
    return json.dumps(event, separators=(",", ":")).encode()


def payout_burst(
    accounts: Sequence[Mapping[str, Any]], *, events: int, prefix: str, base: int
) -> list[bytes]:
    """`payout.*` events as a payout day sends them: each account's payouts moving
    created → paid, one event per payout and state, a second apart."""
    lifecycle = [("payout.created", "pending"), ("payout.updated", "in_transit")]
    lifecycle.append(("payout.paid", "paid"))
    bodies = []
    for i in range(events):
        account = accounts[i % len(accounts)]
        payout, step = divmod(i // len(accounts), len(lifecycle))
        event_type, status = lifecycle[step]
        bodies.append(
            payout_event(
                f"{prefix}{i}",
                event_type,
                account_id=str(account["id"]),
                payout_id=f"po_{prefix.removeprefix('evt_')}{account['id']}_{payout}",
                status=status,
                amount=1_000 + payout,
                created=base + i // len(accounts),
            )
        )
    return bodies


def transfer_burst(
    transfers: Sequence[Mapping[str, Any]], *, events: int, prefix: str, base: int
) -> list[bytes]:
    """`transfer.*` events over ledger transfers (`stripe_transfer_id`, `destination`,
    `amount`): each transfer reversed a little more per event, a second apart, the last event of
    each round fully reversing it."""
    rounds = max(1, math.ceil(events / len(transfers)))
    bodies = []
    for i in range(events):
        transfer = transfers[i % len(transfers)]
        step = i // len(transfers)
        amount = int(transfer["amount"])
        reversed_amount = amount if step == rounds - 1 else amount * step // rounds
        bodies.append(
            transfer_event(
                f"{prefix}{i}",
                "transfer.reversed" if reversed_amount >= amount else "transfer.updated",
                transfer_id=str(transfer["stripe_transfer_id"]),
                destination=str(transfer["destination"]),
                amount=amount,
                amount_reversed=reversed_amount,
                created=base + step,
            )
        )
    return bodies


@dataclass(frozen=True, slots=True)
class FireResult:
    sent: int
    wall_s: float
    statuses: Mapping[int, int]
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.sent / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


async def fire(url: str, bodies: Sequence[bytes], *, secret: str, concurrency: int) -> FireResult:
    """POST each body once, signed just before sending, `concurrency` at a time over keep-alive.

    The sender shares a core with the Worker host, so it uses the backend's own lean HTTP/1.1
    pool (`backend.worker_side.http_pool`) rather than aiohttp, whose ~4× CPU per request made the
    sender and not the backend the limit of the burst."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    parts = urlsplit(url)
    pool = Http1Pool(f"{parts.scheme}://{parts.netloc}", limit=concurrency, headers={})
    loop = asyncio.get_running_loop()

    async def worker() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            signature = signature_header(body, secret, timestamp=int(time.time()))
            started = time.perf_counter()
            try:
                reply = await pool.request(
                    "POST",
                    parts.path,
                    body,
                    deadline=loop.time() + 30,
                    headers={"Stripe-Signature": signature},
                )
                statuses[reply.status] += 1
            except (TransportError, TimeoutError):
                statuses[0] += 1
            latencies.append((time.perf_counter() - started) * 1000)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    finally:
        await pool.close()
    return FireResult(
        sent=len(bodies),
        wall_s=wall,
        statuses=dict(statuses),
        p50_ms=statistics.median(latencies) if latencies else 0.0,
        p99_ms=percentile(latencies, 0.99),
    )


@dataclass(frozen=True, slots=True)
class Audit:
    """What D1 says about the events the bench sent."""

    expected: int
    found: int
    processed: int
    claimed_more_than_once: int
    unknown_rows: int

    @property
    def losses(self) -> int:
        return self.expected - self.processed

    @property
    def clean(self) -> bool:
        return self.losses == 0 and self.claimed_more_than_once == 0 and self.unknown_rows == 0


def audit_events(d1_path: Path, event_ids: Sequence[str], *, prefix: str) -> Audit:
    """Each event id once in `connect_webhook_event`, processed, claimed (applied) exactly once.

    `attempts` counts granted claims; effects run only under a granted claim, so attempts == 1
    means the effect ran once even though duplicates were delivered.
    """
    wanted = set(event_ids)
    with sqlite3.connect(f"file:{d1_path}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            'SELECT "event_id", "status", "attempts" FROM "connect_webhook_event" '
            'WHERE "event_id" LIKE ?',
            (prefix + "%",),
        ).fetchall()
    mine = [r for r in rows if r[0] in wanted]
    return Audit(
        expected=len(wanted),
        found=len({r[0] for r in mine}),
        processed=sum(1 for r in mine if r[1] == "processed"),
        claimed_more_than_once=sum(1 for r in mine if int(r[2]) != 1),
        unknown_rows=len(rows) - len(mine),
    )
