"""What each webhook costs in calls across the network, and the status route at real distance.

Calls are counted through the fault proxy (`tests/reliability/fault_proxy.py`, a real HTTP/1.1
proxy, in pass mode) in front of the Worker and of Stripe. The status route at distance talks to
a Worker host that itself holds each reply one round trip (`bench.hop`), with no proxy in between,
so the pool of connections to the Worker (`WORKER_MAX_CONNECTIONS`) or the CPU, not a proxy,
limits a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bench.ingest import burst, connect_accounts, ledger_transfers, synced_earlier
from bench.matrix import Cells, Target, run_matrix
from bench.stack import Stack, backend_server, seed_organizations
from bench.webhooks import fire, payout_burst, transfer_burst
from devstack.ports import free_port
from tests.reliability.fault_proxy import FaultProxy


@contextlib.contextmanager
def proxied(url: str) -> Iterator[FaultProxy]:
    host, port = url.removeprefix("http://").split(":")
    proxy = FaultProxy(host, int(port)).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@dataclass(frozen=True, slots=True)
class CallCounts:
    events: int
    ok: int
    worker_calls: int
    stripe_calls: int
    worker_routes: dict[str, int]

    @property
    def worker_per_event(self) -> float:
        return self.worker_calls / self.events

    @property
    def stripe_per_event(self) -> float:
        return self.stripe_calls / self.events


def count_calls(
    stack: Stack, *, events: int, organizations: int, concurrency: int
) -> tuple[CallCounts, CallCounts, CallCounts]:
    """A burst of `account.updated` over established accounts, then a burst of `payout.*` over
    the same accounts, then a burst of `transfer.*` over a ledger transfer to each, every call
    the backend makes to the Worker and to Stripe counted at the proxies: (account events,
    payout events, transfer events)."""
    with (
        proxied(stack.worker_url) as worker_proxy,
        proxied(stack.stripe_url) as stripe_proxy,
    ):
        port = free_port()
        server = backend_server(
            "backend-counted",
            port,
            keys=stack.secrets,
            worker_url=worker_proxy.url,
            stripe_url=stripe_proxy.url,
            cache_ttl_s=0.0,
            log_dir=stack.log_dir,
        )
        with server:
            org_ids = seed_organizations(
                stack.d1_path,
                count=organizations,
                owner_id=stack.principal.user_id,
                slug_prefix="counted",
            )
            accounts = connect_accounts(stack, org_ids)
            url = f"http://127.0.0.1:{port}/api/connect/webhook"
            now = int(time.time())
            synced_earlier(stack, org_ids, synced_at=now - 3600)
            token = secrets.token_hex(4)

            def counted(bodies: list[bytes]) -> CallCounts:
                worker_proxy.seen.clear()
                stripe_proxy.seen.clear()
                result = asyncio.run(
                    fire(url, bodies, secret=stack.secrets.webhook, concurrency=concurrency)
                )
                return _counts(len(bodies), result.ok, worker_proxy, stripe_proxy)

            _, bodies = burst(accounts, events=events, prefix=f"evt_count{token}_", base=now - 1800)
            account_counts = counted(bodies)
            payouts = payout_burst(accounts, events=events, prefix=f"evt_pocount{token}_", base=now)
            payout_counts = counted(payouts)
            ledger = ledger_transfers(stack, org_ids, accounts, prefix=f"bench-tr-{token}-")
            transfers = transfer_burst(
                ledger, events=events, prefix=f"evt_trcount{token}_", base=now
            )
            transfer_counts = counted(transfers)
    return account_counts, payout_counts, transfer_counts


def _counts(events: int, ok: int, worker: FaultProxy, stripe: FaultProxy) -> CallCounts:
    worker_seen = [s for s in worker.seen if s.outcome == "forwarded"]
    stripe_seen = [s for s in stripe.seen if s.outcome == "forwarded"]
    return CallCounts(
        events=events,
        ok=ok,
        worker_calls=len(worker_seen),
        stripe_calls=len(stripe_seen),
        worker_routes=dict(Counter(s.path.removeprefix("/api/internal/") for s in worker_seen)),
    )


def far_matrix(
    stack: Stack,
    wrk: str,
    *,
    worker_url: str,
    pool: int,
    cache_ttl_s: float,
    concurrencies: list[int],
    rounds: int,
    duration_s: float,
    wrk_cpu: int | None,
    progress: Callable[[str], None],
) -> Cells:
    """The status route through a Worker host a round trip away (`bench.hop.distant_worker`),
    cache off and on, pool of `pool`; and interleaved with them, "near": the stack's own backend
    (cache off) on the Worker host next door — what the same code serves when the Worker costs
    no round trip, the CPU bound of this machine at this moment."""
    ports = {"far": free_port(), "far+cache": free_port()}
    extra = {"WORKER_MAX_CONNECTIONS": str(pool)}
    servers = {
        name: backend_server(
            f"backend-{name.replace('+', '-')}",
            port,
            keys=stack.secrets,
            worker_url=worker_url,
            stripe_url=stack.stripe_url,
            cache_ttl_s=cache_ttl_s if name == "far+cache" else 0.0,
            log_dir=stack.log_dir,
            extra_env=extra,
        )
        for name, port in ports.items()
    }
    org = stack.principal.organization_id
    with servers["far"], servers["far+cache"]:
        targets = [
            Target(
                name,
                f"http://127.0.0.1:{port}/api/connect/status/{org}",
                stack.principal.token,
                {"server": servers[name].pid},
            )
            for name, port in ports.items()
        ]
        targets.append(
            Target(
                "near",
                f"{stack.backend_url}/api/connect/status/{org}",
                stack.principal.token,
                {"server": stack.backend.pid},
            )
        )
        return run_matrix(
            wrk,
            targets,
            concurrencies=concurrencies,
            rounds=rounds,
            duration_s=duration_s,
            wrk_cpu=wrk_cpu,
            progress=progress,
        )
