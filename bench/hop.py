"""The backend → Worker hop at production distance: the Worker host a round trip away.

The Worker host holds each reply `WORKER_REPLY_DELAY_MS` (and a new connection's first request
one more round trip, the handshake) on its own event loop (`devstack.distance`): nothing slow sits
in between, so what limits the status route is the backend's pool — at most
min(connections, `WORKER_MAX_CONNECTIONS`) calls in flight, each one RTT — or its CPU.

`probe_delay` checks the delay itself under load with the backend's own client (`Http1Pool`):
per-call latency at the client minus the RTT is what the delay adds beyond the round trip, plus
this harness's own scheduling on a busy core.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import uvloop

from backend.worker_side.http_pool import Http1Pool
from bench.ingest import IngestResult, burst, connect_accounts, run_ingest, synced_earlier
from bench.matrix import Cells
from bench.procs import Server
from bench.report import markdown_table, summarise
from bench.stack import Secrets, Stack, backend_server, seed_organizations, worker_host_server
from bench.webhooks import FireResult, fire
from devstack.ports import free_port

ROUTES = ("far", "far+cache")
HEALTH = "/api/internal/health"


@contextmanager
def distant_worker(
    *, d1_path: Path, keys: Secrets, rtt_ms: float, cpu: int | None, log_dir: Path
) -> Iterator[tuple[Server, str]]:
    """A Worker host on `d1_path`, `rtt_ms` away from its clients; yields it and its URL."""
    port = free_port()
    server = worker_host_server(
        f"worker-{rtt_ms:g}ms",
        port,
        d1_path=d1_path,
        keys=keys,
        cpu=cpu,
        log_dir=log_dir,
        extra_env={"WORKER_REPLY_DELAY_MS": f"{rtt_ms:g}"},
    )
    with server:
        yield server, f"http://127.0.0.1:{port}"


@dataclass(frozen=True, slots=True)
class DelayProbe:
    rtt_ms: float
    callers: int
    pool: int  # connections the callers share (callers > pool: they wait for one)
    calls: int
    calls_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def bound(self) -> float:
        return min(self.callers, self.pool) / (self.rtt_ms / 1000)


def probe_delay(
    url: str, *, api_key: str, rtt_ms: float, callers: int, pool: int, duration_s: float
) -> DelayProbe:
    """`callers` sharing a pool of `pool` kept-alive connections for `duration_s`, each call
    timed (waiting for a connection included, as in the backend)."""
    return uvloop.run(
        _probe(
            url, api_key=api_key, rtt_ms=rtt_ms, callers=callers, pool=pool, duration_s=duration_s
        )
    )


async def _probe(
    url: str, *, api_key: str, rtt_ms: float, callers: int, pool: int, duration_s: float
) -> DelayProbe:
    client = Http1Pool(url, limit=pool, headers={"X-API-Key": api_key})
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    try:
        # Open every connection first: the handshake's round trip is not what is measured here.
        await asyncio.gather(*(client.request("GET", HEALTH) for _ in range(pool)))
        stop_at = loop.time() + duration_s

        async def caller() -> None:
            while loop.time() < stop_at:
                started = time.perf_counter()
                reply = await client.request("GET", HEALTH)
                latencies.append(time.perf_counter() - started)
                if reply.status != 200:
                    raise RuntimeError(f"the Worker host answered {reply.status}")

        began = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        wall = time.perf_counter() - began
    finally:
        await client.close()
    ordered = sorted(latencies)
    return DelayProbe(
        rtt_ms=rtt_ms,
        callers=callers,
        pool=pool,
        calls=len(ordered),
        calls_per_s=len(ordered) / wall,
        p50_ms=statistics.median(ordered) * 1e3,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
        max_ms=ordered[-1] * 1e3,
    )


def probe_report(probes: Sequence[DelayProbe]) -> str:
    rows: list[list[object]] = [
        [
            p.rtt_ms,
            p.callers,
            p.pool,
            p.calls,
            p.calls_per_s,
            p.bound,
            p.calls_per_s / p.bound,
            p.p50_ms,
            p.p99_ms,
            p.max_ms,
            p.p99_ms - p.rtt_ms,
        ]
        for p in probes
    ]
    table = markdown_table(
        [
            "RTT ms",
            "callers",
            "pool",
            "calls",
            "calls/s",
            "min(callers, pool) ÷ RTT",
            "ratio",
            "p50 ms",
            "p99 ms",
            "max ms",
            "p99 − RTT ms",
        ],
        rows,
    )
    return (
        f"{table}\n\n"
        "Callers beyond the pool wait for a connection (`Http1Pool`'s semaphore, as in the "
        "backend): their calls/s stay at pool ÷ RTT and their latency grows by the wait."
    )


def hop_rows(
    cells: dict[tuple[float, int], Cells], *, concurrencies: Sequence[int]
) -> list[list[object]]:
    """One row per (RTT, pool, conns, cache): req/s beside its bound and the ratio to it.

    The bound is the lower of the pool's — min(conns, pool) ÷ RTT, cache off only: with the cache
    on, repeat readers make no Worker call — and the CPU's: what the same backend served in the
    same round with the Worker next door ("near", cache off; a cache-on row has no bound here:
    it does less work than "near", and no Worker call once cached). The ratio is taken per round
    (interleaved runs share the machine's weather) and its median reported. Latency beside its
    own bound: 3 × RTT + 10 ms while the pool is not saturated (conns ≤ pool).
    """
    rows: list[list[object]] = []
    for (rtt_ms, pool), by_cell in cells.items():
        for conns in concurrencies:
            near = by_cell[("near", conns)]
            for route in ROUTES:
                runs = by_cell[(route, conns)]
                cell = summarise([r.result for r in runs])
                cpu_us = statistics.median(r.cpu_us_per_request.get("server", 0.0) for r in runs)
                pool_bound = min(conns, pool) / (rtt_ms / 1000)
                ratios, bounds, limits = [], [], []
                for run, near_run in zip(runs, near, strict=True):
                    cpu_bound = near_run.result.rps
                    capped = route == "far" and pool_bound < cpu_bound
                    bound = pool_bound if capped else cpu_bound
                    bounds.append(bound)
                    limits.append("pool" if capped else "CPU")
                    ratios.append(run.result.rps / bound if bound > 0 else 0.0)
                near_rps = statistics.median(r.result.rps for r in near)
                near_cpu_us = statistics.median(
                    r.cpu_us_per_request.get("server", 0.0) for r in near
                )
                bound = statistics.median(bounds)
                limit = max(set(limits), key=limits.count)
                unsaturated = conns <= pool and route == "far"
                p99_ok = cell.p99_ms <= 3 * rtt_ms + 10
                rows.append(
                    [
                        rtt_ms,
                        pool,
                        conns,
                        "on" if route == "far+cache" else "off",
                        f"{pool_bound:,.0f}" if route == "far" else "–",
                        near_rps,
                        f"{bound:,.0f} ({limit})" if route == "far" else "–",
                        cell.rps,
                        f"{statistics.median(ratios):.2f}" if route == "far" else "–",
                        cell.p50_ms,
                        cell.p99_ms,
                        ("yes" if p99_ok else "**no**") if unsaturated else "–",
                        cell.errors,
                        round(cpu_us),
                        round(near_cpu_us),
                    ]
                )
    return rows


HOP_HEADERS = [
    "RTT ms",
    "WORKER_MAX_CONNECTIONS",
    "conns",
    "cache",
    "min(conns, pool) ÷ RTT",
    "near req/s (CPU bound)",
    "bound",
    "req/s",
    "req/s ÷ bound",
    "p50 ms",
    "p99 ms",
    "p99 ≤ 3·RTT+10 ms (pool not full)",
    "errors",
    "server CPU µs/req",
    "near CPU µs/req",
]


def hop_report(cells: dict[tuple[float, int], Cells], *, concurrencies: Sequence[int]) -> str:
    table = markdown_table(HOP_HEADERS, hop_rows(cells, concurrencies=concurrencies))
    return (
        f"{table}\n\n"
        "The Worker host holds every reply one RTT on its own loop (and a new connection's first "
        "request one more, the handshake): no proxy in between. With the cache off each status "
        "request makes one Worker call, so a process serves at most min(connections, pool) ÷ RTT "
        'requests/s, or what its one core allows if that is lower (the CPU bound: "near" req/s, '
        "the same backend with the Worker next door, interleaved in the same rounds); past a "
        "full pool requests queue for a connection and latency grows by that wait."
    )


@dataclass(frozen=True, slots=True)
class FarIngest:
    burst: IngestResult
    serial: FireResult  # one event at a time: its latency is the round trips, no queueing


def far_ingest(
    stack: Stack,
    *,
    worker: Server,
    worker_url: str,
    events: int,
    organizations: int,
    concurrency: int,
    serial_events: int = 40,
) -> FarIngest:
    """The webhook burst of `run_ingest` through a backend whose Worker is `worker` (far away),
    then `serial_events` more, one at a time, over other organizations."""
    port = free_port()
    backend = backend_server(
        "backend-far-webhooks",
        port,
        keys=stack.secrets,
        worker_url=worker_url,
        stripe_url=stack.stripe_url,
        cache_ttl_s=0.0,
        log_dir=stack.log_dir,
    )
    with backend:
        url = f"http://127.0.0.1:{port}"
        far = replace(stack, backend=backend, backend_url=url, worker=worker)
        result = run_ingest(
            far, events=events, organizations=organizations, concurrency=concurrency
        )
        org_ids = seed_organizations(
            stack.d1_path, count=4, owner_id=stack.principal.user_id, slug_prefix="far-serial"
        )
        accounts = connect_accounts(stack, org_ids)
        now = int(time.time())
        synced_earlier(stack, org_ids, synced_at=now - 3600)
        _, bodies = burst(
            accounts, events=serial_events, prefix=f"evt_far{secrets.token_hex(4)}_", base=now
        )
        serial = asyncio.run(
            fire(f"{url}/api/connect/webhook", bodies, secret=stack.secrets.webhook, concurrency=1)
        )
    return FarIngest(burst=result, serial=serial)


def far_ingest_report(far: FarIngest, *, rtt_ms: float) -> str:
    """Events/s beside what bounds them. An event waits its Worker round trips one after
    another, so `concurrency` events in flight make at most concurrency ÷ (round trips × RTT)
    events/s; the round trips on an event's path are read off events sent one at a time (their
    p50 ÷ RTT: no queueing, CPU well under a round trip)."""
    result, first = far.burst, far.burst.first
    trips = far.serial.p50_ms / rtt_ms
    flight_bound = result.concurrency / (trips * rtt_ms / 1000) if trips > 0 else float("inf")
    cpu_us = result.cpu.get("backend", 0.0) * first.wall_s / result.events * 1e6
    cpu_bound = 1e6 / cpu_us if cpu_us > 0 else float("inf")
    bound = min(flight_bound, cpu_bound)
    rows: list[list[object]] = [
        [
            rtt_ms,
            result.concurrency,
            result.events,
            first.ok,
            first.per_second,
            first.p50_ms,
            first.p99_ms,
            far.serial.p50_ms,
            trips,
            round(flight_bound),
            round(cpu_us),
            round(cpu_bound),
            f"{first.per_second / bound:.2f}",
            result.audit.losses,
        ]
    ]
    table = markdown_table(
        [
            "RTT ms",
            "concurrency",
            "events",
            "2xx",
            "events/s",
            "p50 ms",
            "p99 ms",
            "one at a time: p50 ms",
            "round trips per event",
            "concurrency ÷ (trips × RTT)",
            "backend CPU µs/event",
            "CPU bound (1 core)",
            "events/s ÷ lower bound",
            "losses",
        ],
        rows,
    )
    return (
        f"{table}\n\n"
        "One process, `account.updated` events over established accounts: the claim (which "
        "carries the snapshot and completes in one D1 batch) is the event's one Worker call, so "
        "an event costs one round trip and a process ingests at most concurrency ÷ (round trips "
        "× RTT) events/s, or what its core allows if that is lower; more concurrent deliveries "
        "or replicas raise the first, only replicas the second."
    )
