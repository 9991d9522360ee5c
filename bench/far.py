"""The "far" part of `make bench`: the hop at each round trip, then the webhooks at the first.

BENCH_ONLY=far BENCH_FAR_ONLY=status .venv/bin/python -m bench   (the hop table alone)
"""

from __future__ import annotations

import os
from collections.abc import Callable

from bench.distance import far_matrix
from bench.hop import (
    distant_worker,
    far_ingest,
    far_ingest_report,
    hop_report,
    probe_delay,
    probe_report,
)
from bench.matrix import Cells
from bench.stack import LOAD_CPU, Stack


def _list(name: str, default: str) -> list[str]:
    return [v for v in (os.environ.get(name) or default).split(",") if v]


def far_sections(
    stack: Stack,
    wrk: str,
    *,
    pinning: bool,
    duration_s: float,
    rounds: int,
    log: Callable[[str], None],
) -> list[str]:
    rtts = [float(v) for v in _list("BENCH_FAR_RTT_MS", "20,50")]
    conns = [int(v) for v in _list("BENCH_FAR_CONCURRENCY", "50,200")]
    pools = [int(v) for v in _list("BENCH_FAR_POOLS", "32,100")]
    parts = set(_list("BENCH_FAR_ONLY", "probe,status,webhooks"))
    cpu = LOAD_CPU if pinning else None
    cache_ttl_s = float(os.environ.get("BENCH_CACHE_TTL") or 30.0)
    probes = []
    cells: dict[tuple[float, int], Cells] = {}
    ingest = ""
    for index, rtt_ms in enumerate(rtts):
        with distant_worker(
            d1_path=stack.d1_path, keys=stack.secrets, rtt_ms=rtt_ms, cpu=cpu, log_dir=stack.log_dir
        ) as (worker, url):
            if "probe" in parts:
                shapes = [(n, n) for n in conns] + [
                    (n, min(pools)) for n in conns if n > min(pools)
                ]
                for callers, pool in shapes:
                    log(f"== the delay alone: {rtt_ms:g} ms, {callers} callers, pool {pool} ==")
                    probes.append(
                        probe_delay(
                            url,
                            api_key=stack.secrets.internal_api_key,
                            rtt_ms=rtt_ms,
                            callers=callers,
                            pool=pool,
                            duration_s=duration_s,
                        )
                    )
            if "status" in parts:
                for pool in pools:
                    log(f"== the hop at {rtt_ms:g} ms, pool {pool} ==")
                    cells[(rtt_ms, pool)] = far_matrix(
                        stack,
                        wrk,
                        worker_url=url,
                        pool=pool,
                        cache_ttl_s=cache_ttl_s,
                        concurrencies=conns,
                        rounds=rounds,
                        duration_s=duration_s,
                        wrk_cpu=cpu,
                        progress=log,
                    )
            if "webhooks" in parts and index == 0:
                log(f"== webhooks at {rtt_ms:g} ms ==")
                result = far_ingest(
                    stack,
                    worker=worker,
                    worker_url=url,
                    events=int(os.environ.get("BENCH_WEBHOOK_EVENTS") or 2000),
                    organizations=int(os.environ.get("BENCH_WEBHOOK_ORGS") or 50),
                    concurrency=int(os.environ.get("BENCH_WEBHOOK_CONCURRENCY") or 64),
                )
                ingest = far_ingest_report(result, rtt_ms=rtt_ms)
    sections = []
    if probes:
        sections += [
            "### The delay itself: the Worker host a round trip away, called by the backend's "
            "pool from the harness\n",
            probe_report(probes) + "\n",
        ]
    if cells:
        sections += [
            "### The hop at distance: status route with the Worker a round trip away\n",
            hop_report(cells, concurrencies=conns) + "\n",
        ]
    if ingest:
        sections += [f"### Webhook ingestion with the Worker {rtts[0]:g} ms away\n", ingest + "\n"]
    return sections
