"""The hop table's arithmetic: bounds, per-round ratios, the latency check, the webhook bound."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.hop import (
    HOP_HEADERS,
    DelayProbe,
    FarIngest,
    far_ingest_report,
    hop_rows,
    probe_report,
)
from bench.ingest import IngestResult
from bench.matrix import Cells, Run
from bench.webhooks import Audit, FireResult
from bench.wrk import WrkResult


def _run(rps: float, *, p50: float = 25.0, p99: float = 40.0, cpu_us: float = 300.0) -> Run:
    result = WrkResult(
        requests=int(rps * 2), duration_s=2.0, errors=0, non_2xx=0, p50_ms=p50, p99_ms=p99
    )
    return Run(result=result, cpu={"server": 0.5}, cpu_us_per_request={"server": cpu_us})


def _cells(far: list[Run], cache: list[Run], near: list[Run], conns: int) -> Cells:
    return {("far", conns): far, ("far+cache", conns): cache, ("near", conns): near}


def _row(rows: list[list[object]], cache: str) -> dict[str, object]:
    [row] = [r for r in rows if r[3] == cache]
    return dict(zip(HOP_HEADERS, row, strict=True))


def test_the_pool_bounds_a_row_when_it_is_lower_than_the_cpu() -> None:
    # pool 32 at 20 ms: 1,600 calls/s; the same backend next door served 4,000.
    cells = {(20.0, 32): _cells([_run(1500)], [_run(3000)], [_run(4000)], conns=50)}
    row = _row(hop_rows(cells, concurrencies=[50]), "off")
    assert row["min(conns, pool) ÷ RTT"] == "1,600"
    assert row["bound"] == "1,600 (pool)"
    assert row["req/s ÷ bound"] == "0.94"
    assert row["p99 ≤ 3·RTT+10 ms (pool not full)"] == "–"  # 50 conns > pool 32: queueing


def test_the_cpu_bounds_a_row_when_the_pool_allows_more() -> None:
    # pool 100, 200 conns at 20 ms: 5,000 calls/s allowed; the CPU gave 2,000 next door.
    cells = {(20.0, 100): _cells([_run(1900)], [_run(3000)], [_run(2000)], conns=200)}
    row = _row(hop_rows(cells, concurrencies=[200]), "off")
    assert row["bound"] == "2,000 (CPU)"
    assert row["req/s ÷ bound"] == "0.95"


def test_conns_below_the_pool_bound_the_pool_side() -> None:
    cells = {(50.0, 100): _cells([_run(900)], [_run(3000)], [_run(5000)], conns=50)}
    row = _row(hop_rows(cells, concurrencies=[50]), "off")
    assert row["min(conns, pool) ÷ RTT"] == "1,000"  # 50 ÷ 50 ms, not 100 ÷ 50 ms
    assert row["bound"] == "1,000 (pool)"


@pytest.mark.parametrize(("p99", "verdict"), [(70.0, "yes"), (70.1, "**no**")])
def test_latency_is_checked_against_three_rtts_plus_10_ms_while_the_pool_is_not_full(
    p99: float, verdict: str
) -> None:
    cells = {(20.0, 100): _cells([_run(2400, p99=p99)], [_run(3000)], [_run(5000)], conns=50)}
    assert _row(hop_rows(cells, concurrencies=[50]), "off")[HOP_HEADERS[11]] == verdict


def test_the_ratio_is_the_median_of_per_round_ratios() -> None:
    # Round 2 is a slow patch for both: per-round CPU-bound ratios 0.9, 0.9, 0.5 -> 0.9.
    far = [_run(900), _run(450), _run(500)]
    near = [_run(1000), _run(500), _run(1000)]
    cells = {(20.0, 100): _cells(far, [_run(1)] * 3, near, conns=200)}
    assert _row(hop_rows(cells, concurrencies=[200]), "off")["req/s ÷ bound"] == "0.90"


def test_cache_on_rows_claim_no_bound() -> None:
    cells = {(20.0, 100): _cells([_run(1900)], [_run(6000)], [_run(2000)], conns=200)}
    row = _row(hop_rows(cells, concurrencies=[200]), "on")
    assert (row["bound"], row["req/s ÷ bound"], row["req/s"]) == ("–", "–", 6000.0)


@pytest.mark.parametrize(
    ("callers", "pool", "bound", "line"),
    [
        (
            50,
            50,
            2500,
            "| 20.0 | 50 | 50 | 7,000 | 2,400 | 2,500 | 0.96 | 21.0 | 24.0 | 30.0 | 4.00 |",
        ),
        (
            200,
            32,
            1600,
            "| 20.0 | 200 | 32 | 7,000 | 2,400 | 1,600 | 1.50 | 21.0 | 24.0 | 30.0 | 4.00 |",
        ),
    ],
)
def test_the_delay_probe_reports_calls_against_min_callers_pool_over_rtt(
    callers: int, pool: int, bound: float, line: str
) -> None:
    probe = DelayProbe(
        rtt_ms=20.0,
        callers=callers,
        pool=pool,
        calls=7000,
        calls_per_s=2400.0,
        p50_ms=21.0,
        p99_ms=24.0,
        max_ms=30.0,
    )
    assert probe.bound == pytest.approx(bound)
    assert probe_report([probe]).splitlines()[2] == line


def test_webhooks_at_distance_are_bounded_by_concurrency_over_round_trips() -> None:
    # One at a time, p50 42 ms at 20 ms RTT: 2.1 round trips an event; 64 in flight ->
    # 64 / 0.042 = 1,524/s. The burst's own latency (queueing included) does not enter the bound.
    first = FireResult(sent=2000, wall_s=2.0, statuses=Counter({200: 2000}), p50_ms=64, p99_ms=90)
    serial = FireResult(sent=40, wall_s=1.7, statuses=Counter({200: 40}), p50_ms=42, p99_ms=45)
    result = IngestResult(
        events=2000,
        organizations=50,
        concurrency=64,
        first=first,
        duplicates=first,
        duplicate_answers_2xx=200,
        audit=Audit(
            expected=2000, found=2000, processed=2000, claimed_more_than_once=0, unknown_rows=0
        ),
        orgs_synced=50,
        cpu={"backend": 0.5},  # 0.5 core × 2 s / 2000 events = 500 µs an event: 2,000/s
    )
    row = far_ingest_report(FarIngest(result, serial), rtt_ms=20).splitlines()[2]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[4] == "1,000"  # events/s
    assert cells[8] == "2.10"  # round trips an event
    assert cells[9] == "1,524"  # concurrency bound
    assert cells[10:12] == ["500", "2,000"]  # CPU µs/event, CPU bound
    assert cells[12] == "0.66"  # against the lower bound, 1,524
