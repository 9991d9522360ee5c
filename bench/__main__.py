"""`python -m bench` (= `make bench`): the whole run, then one markdown report on stdout.

Environment (all optional):
  BENCH_DURATION (s per cell, 3)   BENCH_ROUNDS (interleaved rounds, 3)
  BENCH_CONCURRENCY ("1,10,50")    BENCH_WORKER_CPU (core of the Worker host, 1; "none" = unpinned)
  BENCH_CACHE_TTL (s, 30)          BENCH_WEBHOOK_EVENTS (2000)  BENCH_WEBHOOK_ORGS (50)
  BENCH_WEBHOOK_CONCURRENCY (64)   BENCH_ONLY ("http,webhooks,far,worker,pyodide": a subset)
  BENCH_FAR_RTT_MS ("20,50": round trips)  BENCH_FAR_POOLS ("32,100": WORKER_MAX_CONNECTIONS)
  BENCH_FAR_CONCURRENCY ("50,200")  BENCH_FAR_ONLY ("probe,status,webhooks": a part of "far")
  BENCH_COUNT_EVENTS (1000: the burst whose calls are counted)
  BENCH_OUTPUT (also write the report to this file)
  BENCH_BACKEND_ARGV (command for the backend instead of `python -m backend`: A/B a variant)
  BENCH_BASELINE_REF (a git ref: its backend/ measured as a "baseline" row in the same run)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from bench import machine
from bench.distance import CallCounts, count_calls
from bench.far import far_sections
from bench.ingest import IngestResult, run_ingest
from bench.matrix import Cells, Target, check_target, run_matrix
from bench.pyodide_worker import PyodideCost, pyodide_cost
from bench.report import markdown_table, paired_ratio, summarise, verdict
from bench.stack import LOAD_CPU, SERVER_CPU, Stack, start_stack
from bench.worker_core import CallCost, ImportCost, import_cost, verify_costs
from bench.wrk import WrkUnavailableError, ensure_wrk

ROUTES = ("bare", "backend", "backend+cache", "hono")
TARGET_VS_HONO = 1.5
TARGET_VS_BARE = 0.25
TARGET_EVENTS_PER_S = 1000
TARGET_CPU_US_PER_EVENT = 900
TARGET_STRIPE_PER_EVENT = 0.1
TARGET_WORKER_PER_EVENT = 2.0


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def targets(stack: Stack) -> list[Target]:
    org = stack.principal.organization_id
    token = stack.principal.token
    worker = stack.worker.pid
    path = f"/api/connect/status/{org}"
    return [
        # The backend's own liveness route: same process, middleware and server settings, no I/O.
        Target("bare", f"{stack.backend_url}/healthz", pids={"server": stack.backend.pid}),
        Target(
            "backend",
            stack.backend_url + path,
            token,
            {"server": stack.backend.pid, "worker": worker},
        ),
        Target(
            "backend+cache",
            stack.backend_cached_url + path,
            token,
            {"server": stack.backend_cached.pid, "worker": worker},
        ),
        Target("hono", stack.hono_url + path, token, {"server": stack.hono.pid, "worker": worker}),
        *(
            [
                Target(
                    "baseline",
                    stack.baseline_url + path,
                    token,
                    {"server": stack.baseline.pid, "worker": worker},
                )
            ]
            if stack.baseline is not None
            else []
        ),
    ]


def check_same_answer(targets: list[Target]) -> None:
    """The peer must do the same work: its answer to the same request equals the backend's."""
    by_name = {t.name: t for t in targets}
    ours, peer = check_target(by_name["backend"]), check_target(by_name["hono"])
    if ours != peer:
        raise RuntimeError(f"the Hono peer answers differently:\n ours {ours}\n peer {peer}")


def http_report(cells: Cells, concurrencies: list[int]) -> str:
    rows: list[list[object]] = []
    routes = [*ROUTES, *(["baseline"] if ("baseline", concurrencies[0]) in cells else [])]
    for conns in concurrencies:
        for route in routes:
            runs = cells[(route, conns)]
            cell = summarise([r.result for r in runs])
            cpu = _median_cpu([r.cpu for r in runs])
            cost = _median_cpu([r.cpu_us_per_request for r in runs])
            rows.append(
                [
                    route,
                    conns,
                    cell.rps,
                    cell.p50_ms,
                    cell.p99_ms,
                    cell.errors,
                    f"{cpu.get('server', 0):.0%}",
                    f"{cpu['worker']:.0%}" if "worker" in cpu else "—",
                    round(cost.get("server", 0)),
                    round(cost["worker"]) if "worker" in cost else "—",
                ]
            )
    table = markdown_table(
        [
            "route",
            "conns",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "server CPU",
            "Worker CPU",
            "server CPU µs/req",
            "Worker CPU µs/req",
        ],
        rows,
    )
    ratio_rows: list[list[object]] = []
    for conns in concurrencies:
        hono_cost = _median_cpu([r.cpu_us_per_request for r in cells[("hono", conns)]])
        our_cost = _median_cpu([r.cpu_us_per_request for r in cells[("backend", conns)]])
        efficiency = hono_cost.get("server", 0) / max(1.0, our_cost.get("server", 0))

        def ratio(a: str, b: str, c: int = conns) -> float:
            return paired_ratio(
                [r.result for r in cells[(a, c)]], [r.result for r in cells[(b, c)]]
            )

        ratio_rows.append(
            [
                conns,
                verdict(ratio("backend", "hono"), TARGET_VS_HONO)
                if conns == max(concurrencies)
                else f"{ratio('backend', 'hono'):.2f}×",
                verdict(ratio("backend", "bare"), TARGET_VS_BARE)
                if conns == max(concurrencies)
                else f"{ratio('backend', 'bare'):.2f}×",
                f"{ratio('backend+cache', 'backend'):.2f}×",
                f"{ratio('backend+cache', 'bare'):.2f}×",
                f"{ratio('hono', 'bare'):.2f}×",
                f"{efficiency:.2f}×",
                *([f"{ratio('backend', 'baseline'):.2f}×"] if "baseline" in routes else []),
            ]
        )
    ratios = markdown_table(
        [
            "conns",
            "backend / hono",
            "backend / bare",
            "cache on / off",
            "backend+cache / bare",
            "hono / bare",
            "server CPU/req: hono ÷ backend",
            *(["backend / baseline"] if "baseline" in routes else []),
        ],
        ratio_rows,
    )
    return (
        table
        + "\n\nRatios of req/s (median of per-round ratios), and of server CPU per request "
        + "(the steadier measure when other processes share the cores):\n\n"
        + ratios
    )


def _median_cpu(samples: list[Mapping[str, float]]) -> dict[str, float]:
    roles = {role for sample in samples for role in sample}
    out = {}
    for role in roles:
        values = sorted(s[role] for s in samples if role in s)
        out[role] = values[len(values) // 2]
    return out


def ingest_report(
    result: IngestResult, counts: CallCounts, payouts: CallCounts, transfers: CallCounts
) -> str:
    audit = result.audit
    rate = result.first.per_second
    backend_us = result.cpu.get("backend", 0) * result.first.wall_s / result.events * 1e6
    ceiling = 1e6 / backend_us if backend_us else 0.0
    met = "met" if rate >= TARGET_EVENTS_PER_S and audit.clean else "NOT met"
    figures = markdown_table(
        ["per event", "measured", "target"],
        [
            [
                "events/s, concurrency " + str(result.concurrency),
                f"{rate:,.0f}",
                _met(rate >= TARGET_EVENTS_PER_S and audit.clean, f"≥ {TARGET_EVENTS_PER_S:,}"),
            ],
            [
                "backend CPU µs",
                f"{backend_us:,.0f}",
                _met(backend_us <= TARGET_CPU_US_PER_EVENT, f"≤ {TARGET_CPU_US_PER_EVENT}"),
            ],
            [
                "Stripe calls",
                f"{counts.stripe_per_event:.3f}",
                _met(
                    counts.stripe_per_event <= TARGET_STRIPE_PER_EVENT,
                    f"≤ {TARGET_STRIPE_PER_EVENT}",
                ),
            ],
            [
                "Worker calls",
                f"{counts.worker_per_event:.3f}",
                _met(
                    counts.worker_per_event <= TARGET_WORKER_PER_EVENT,
                    f"≤ {TARGET_WORKER_PER_EVENT:g}",
                ),
            ],
            [
                "Worker calls, `payout.*`",
                f"{payouts.worker_per_event:.3f}",
                _met(
                    payouts.worker_per_event <= TARGET_WORKER_PER_EVENT,
                    f"≤ {TARGET_WORKER_PER_EVENT:g}",
                ),
            ],
            [
                "Worker calls, `transfer.*`",
                f"{transfers.worker_per_event:.3f}",
                _met(
                    transfers.worker_per_event <= TARGET_WORKER_PER_EVENT,
                    f"≤ {TARGET_WORKER_PER_EVENT:g}",
                ),
            ],
            [
                "Stripe calls, `payout.*`",
                f"{payouts.stripe_per_event:.3f}",
                _met(
                    payouts.stripe_per_event <= TARGET_STRIPE_PER_EVENT,
                    f"≤ {TARGET_STRIPE_PER_EVENT}",
                ),
            ],
        ],
    )
    routes = ", ".join(f"`{r}` {n}" for r, n in sorted(counts.worker_routes.items()))
    payout_routes = ", ".join(f"`{r}` {n}" for r, n in sorted(payouts.worker_routes.items()))
    rows: list[list[object]] = [
        [
            "first delivery",
            result.events,
            rate,
            result.first.p50_ms,
            result.first.p99_ms,
            result.first.ok,
        ],
        [
            "resent duplicates",
            result.duplicates.sent,
            result.duplicates.per_second,
            result.duplicates.p50_ms,
            result.duplicates.p99_ms,
            result.duplicates.ok,
        ],
    ]
    table = markdown_table(["delivery", "events", "events/s", "p50 ms", "p99 ms", "2xx"], rows)
    return (
        f"{figures}\n\n{table}\n\n"
        f"- calls counted at a proxy in front of the Worker and of Stripe, for a separate burst of "
        f"{counts.events} events ({counts.ok} acknowledged) through its own backend: "
        f"{counts.worker_calls} Worker calls ({routes}), {counts.stripe_calls} Stripe calls; "
        f"then {payouts.events} `payout.*` events ({payouts.ok} acknowledged): "
        f"{payouts.worker_calls} Worker calls ({payout_routes}), "
        f"{payouts.stripe_calls} Stripe calls\n"
        f"- {result.organizations} organizations, concurrency {result.concurrency}; "
        f"target ≥ {TARGET_EVENTS_PER_S} events/s with zero duplicates or losses: **{met}** "
        f"({rate:,.0f} events/s); the backend's CPU per event puts one core's ceiling at "
        f"~{ceiling:,.0f} events/s\n"
        f"- D1 audit: {audit.found}/{audit.expected} event ids in `connect_webhook_event`, "
        f"{audit.processed} `processed`, losses {audit.losses}, claimed more than once "
        f"{audit.claimed_more_than_once}, stray rows {audit.unknown_rows}\n"
        f"- duplicates acknowledged 2xx without re-applying: {result.duplicate_answers_2xx}/"
        f"{result.duplicates.sent} (every claim count still 1)\n"
        f"- organizations holding the events' account state (active, charges enabled): "
        f"{result.orgs_synced}/{result.organizations}\n"
        "- CPU during the first delivery (share of one core): "
        + ", ".join(f"{role} {v:.0%}" for role, v in result.cpu.items())
        + " — CPU µs per event: "
        + ", ".join(
            f"{role} {v * result.first.wall_s / result.events * 1e6:,.0f}"
            for role, v in result.cpu.items()
        )
        + "\n"
        f"- statuses, first delivery: {dict(result.first.statuses)}; "
        f"duplicates: {dict(result.duplicates.statuses)}"
    )


def _met(ok: bool, target: str) -> str:
    return f"{target}: {'met' if ok else '**NOT met**'}"


def worker_report(costs: list[CallCost], imports: ImportCost) -> str:
    rows: list[list[object]] = [
        [
            c.label,
            c.us_per_call,
            c.d1_us_per_call,
            c.core_us_per_call,
            c.round_trips_per_call,
            c.status,
        ]
        for c in costs
    ]
    table = markdown_table(
        [
            "verify-user-context",
            "µs/call",
            "in D1 (SQLite) µs",
            "core CPU µs",
            "D1 trips",
            "status",
        ],
        rows,
    )
    heavy = ", ".join(f"`{name}` {ms:.1f}" for name, ms in imports.heaviest)
    return (
        f"{table}\n\n"
        f"Import of `connect_worker.app` in a fresh interpreter (minus a bare one): "
        f"{imports.cold_ms:.0f} ms compiling from source, {imports.warm_ms:.0f} ms with bytecode "
        f"cached (`-X importtime` cumulative {imports.importtime_ms:.0f} ms). Heaviest modules "
        f"(self ms): {heavy}."
    )


def pyodide_report(cost: PyodideCost) -> str:
    table = markdown_table(
        ["Worker under Pyodide " + cost.pyodide_version, "ms"],
        [
            ["Pyodide boot (wasm + stdlib, before any Worker code)", cost.boot_ms],
            ["Worker import (`import entry`: its modules + the vendored SDK)", cost.import_ms],
            ["first request (`verify-user-context` inside `fetch`)", cost.first_request_ms],
            ["later requests (median, loopback HTTP)", cost.warm_request_ms],
        ],
    )
    return (
        f"{table}\n\n"
        f"Medians of {cost.runs} fresh Node processes (status {cost.status}). On Cloudflare the "
        "import runs once at deploy time and is restored from a memory snapshot, which this "
        "harness does not reproduce: the import row is the cold-start cost without it."
    )


def main() -> int:
    duration = _env_float("BENCH_DURATION", 3.0)
    rounds = _env_int("BENCH_ROUNDS", 3)
    concurrencies = [int(c) for c in (os.environ.get("BENCH_CONCURRENCY") or "1,10,50").split(",")]
    raw_cpu = os.environ.get("BENCH_WORKER_CPU") or str(LOAD_CPU)
    worker_cpu = None if raw_cpu == "none" else int(raw_cpu)
    only = set((os.environ.get("BENCH_ONLY") or "http,webhooks,far,worker,pyodide").split(","))
    cores = os.cpu_count() or 1
    pinning = cores >= 2
    if pinning:
        os.sched_setaffinity(0, {LOAD_CPU})  # this harness sits with wrk, off the server's core
    try:
        wrk = ensure_wrk()
    except WrkUnavailableError as exc:
        print(f"make bench: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    load_before = os.getloadavg()
    info = machine.describe()
    sections = [
        "## Performance\n",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()) + ".",
        f"Placement: server under test on core {SERVER_CPU}, wrk and the harness on core "
        f"{LOAD_CPU}, Worker host (and Stripe fake) on "
        + (f"core {worker_cpu}" if worker_cpu is not None else "any core")
        + f". {rounds} interleaved rounds × {duration:g} s per cell; medians.\n",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as logs:
        need_stack = bool(only & {"http", "webhooks", "far"})
        if need_stack:
            with start_stack(
                worker_cpu=worker_cpu if pinning else None,
                cache_ttl_s=_env_float("BENCH_CACHE_TTL", 30.0),
                log_dir=Path(logs),
            ) as stack:
                if "http" in only:
                    _log("== HTTP: GET /api/connect/status/{org} ==")
                    check_same_answer(targets(stack))
                    cells = run_matrix(
                        wrk,
                        targets(stack),
                        concurrencies=concurrencies,
                        rounds=rounds,
                        duration_s=duration,
                        wrk_cpu=LOAD_CPU if pinning else None,
                        progress=_log,
                    )
                    sections += [
                        "### Authenticated `GET /api/connect/status/{org}` "
                        "(backend → Worker host → SQLite)\n",
                        http_report(cells, concurrencies) + "\n",
                    ]
                if "webhooks" in only:
                    _log("== webhooks: signed account.updated ==")
                    result = run_ingest(
                        stack,
                        events=_env_int("BENCH_WEBHOOK_EVENTS", 2000),
                        organizations=_env_int("BENCH_WEBHOOK_ORGS", 50),
                        concurrency=_env_int("BENCH_WEBHOOK_CONCURRENCY", 64),
                    )
                    _log("== webhooks: calls per event, counted at proxies ==")
                    counts, payout_counts, transfer_counts = count_calls(
                        stack,
                        events=_env_int("BENCH_COUNT_EVENTS", 1000),
                        organizations=_env_int("BENCH_WEBHOOK_ORGS", 50),
                        concurrency=_env_int("BENCH_WEBHOOK_CONCURRENCY", 64),
                    )
                    sections += [
                        "### Webhook ingestion (verify → claim in D1, with the org → apply the "
                        "event's snapshot and complete, one D1 batch)\n",
                        ingest_report(result, counts, payout_counts, transfer_counts) + "\n",
                    ]
                if "far" in only:
                    sections += far_sections(
                        stack, wrk, pinning=pinning, duration_s=duration, rounds=rounds, log=_log
                    )
        if "worker" in only:
            _log("== Worker core in-process ==")
            sections += [
                "### The Worker's core (in-process on CPython, SQLite as D1)\n",
                worker_report(verify_costs(), import_cost()) + "\n",
            ]
        if "pyodide" in only:
            _log("== Worker under Pyodide: cold start ==")
            sections += [
                "### The Worker under Pyodide (worker/pyodide_host, SQLite as D1)\n",
                pyodide_report(pyodide_cost(runs=_env_int("BENCH_PYODIDE_RUNS", 3))) + "\n",
            ]
    knobs = ", ".join(f"{k}={v}" for k, v in os.environ.items() if k.startswith("BENCH_"))
    took = time.monotonic() - started
    load = os.getloadavg()
    sections.append(
        f"Load average (1 min) before the run {load_before[0]:.2f}, after {load[0]:.2f}: "
        "anything above ~0 means other processes shared these 2 cores, which lowers req/s; "
        "the ratios and CPU µs/req hold better than absolute numbers."
    )
    sections.append(f"Command: `make bench` ({knobs or 'defaults'}); took {took:.0f} s.")
    report = "\n".join(sections)
    print(report)
    output = os.environ.get("BENCH_OUTPUT")
    if output:
        Path(output).write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
