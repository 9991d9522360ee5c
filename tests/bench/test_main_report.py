from __future__ import annotations

from bench.__main__ import ROUTES, http_report, ingest_report
from bench.distance import CallCounts
from bench.ingest import IngestResult
from bench.matrix import Run
from bench.webhooks import Audit, FireResult
from bench.worker_core import parse_importtime
from bench.wrk import WrkResult


def _run(rps: float, server_us: float = 100.0) -> Run:
    result = WrkResult(
        requests=int(rps * 3), duration_s=3.0, errors=0, non_2xx=0, p50_ms=1.0, p99_ms=4.0
    )
    return Run(
        result=result,
        cpu={"server": 0.9, "worker": 0.5},
        cpu_us_per_request={"server": server_us, "worker": 100.0},
    )


def test_http_report_states_each_ratio_and_the_targets_at_the_top_concurrency() -> None:
    rps = {"bare": 10_000.0, "backend": 2_500.0, "backend+cache": 6_000.0, "hono": 2_000.0}
    cost = {"bare": 50.0, "backend": 400.0, "backend+cache": 150.0, "hono": 600.0}
    cells = {(r, c): [_run(rps[r], cost[r])] * 3 for r in ROUTES for c in (1, 50)}
    report = http_report(cells, [1, 50])
    assert "| backend | 50 | 2,500 |" in report
    # 2500/2000 = 1.25 < 1.5 (not met) and 2500/10000 = 0.25 ≥ 0.25 (met) at 50 connections.
    assert "| 50 | 1.25× (≥ 1.5×: NOT met) | 0.25× (≥ 0.25×: met) | 2.40× |" in report
    # Targets are judged only at the top concurrency.
    assert "| 1 | 1.25× | 0.25× | 2.40× |" in report
    # Server CPU per request, hono ÷ backend: 600 / 400.
    assert report.count("| 1.50× |") == 2


def test_ingest_report_fails_the_target_on_any_loss_even_when_fast() -> None:
    fast = FireResult(sent=1000, wall_s=1.0, statuses={200: 999, 503: 1}, p50_ms=5, p99_ms=9)
    dupes = FireResult(sent=100, wall_s=0.1, statuses={200: 100}, p50_ms=1, p99_ms=2)
    lossy = Audit(
        expected=1000, found=1000, processed=999, claimed_more_than_once=0, unknown_rows=0
    )
    result = IngestResult(
        events=1000,
        organizations=10,
        concurrency=16,
        first=fast,
        duplicates=dupes,
        duplicate_answers_2xx=100,
        audit=lossy,
        orgs_synced=10,
        cpu={"backend": 0.9},
    )
    counts = CallCounts(events=1000, ok=1000, worker_calls=2000, stripe_calls=150, worker_routes={})
    payouts = CallCounts(events=1000, ok=1000, worker_calls=3000, stripe_calls=0, worker_routes={})
    transfers = CallCounts(
        events=1000, ok=1000, worker_calls=2000, stripe_calls=0, worker_routes={}
    )
    report = ingest_report(result, counts, payouts, transfers)
    assert "**NOT met** (1,000 events/s)" in report
    assert "losses 1" in report
    # 0.15 Stripe calls per event misses ≤ 0.1; 2.0 Worker calls meets ≤ 2.
    assert "| Stripe calls | 0.150 | ≤ 0.1: **NOT met** |" in report
    assert "| Worker calls | 2.000 | ≤ 2: met |" in report
    assert "| Worker calls, `payout.*` | 3.000 | ≤ 2: **NOT met** |" in report
    assert "| Worker calls, `transfer.*` | 2.000 | ≤ 2: met |" in report


def test_importtime_reads_the_core_module_cumulative_and_ranks_self_time() -> None:
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       300 |        300 |   _io\n"
        "import time:      2000 |       2000 |     connect_worker.http\n"
        "import time:      1000 |       3300 |   connect_worker.handlers\n"
        "import time:       500 |       5000 | connect_worker.app\n"
        "import time:       100 |        100 | json\n"
    )
    total, selfs = parse_importtime(stderr, module="connect_worker.app")
    assert total == 5.0
    assert selfs[0] == ("connect_worker.http", 2.0)
    assert [name for name, _ in selfs][-1] == "json"
