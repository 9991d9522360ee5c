"""`python -m bench.host_cpu`: the Worker host's CPU µs per `verify-user-context` under wrk, and
the core's in-process µs per call beside it — the before/after measure for the host's hot path.

The host runs as `make bench` starts it (its own process, core 1 with wrk); its CPU comes from
/proc/<pid>/stat before and after each wrk run, so µs per request holds steady even when other
processes share the cores and req/s swings. Environment: HOST_CPU_CONNECTIONS (50),
HOST_CPU_DURATION (s per run, 5), HOST_CPU_ROUNDS (3), HOST_CPU_CALLS (core calls, 3000),
HOST_CPU_BASELINE_REF (git refs, comma-separated: their hosts measured too, interleaved).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.machine import cpu_seconds
from bench.procs import REPO, Server
from bench.stack import LOAD_CPU, Secrets, seed_principal, source_at, worker_host_server
from bench.worker_core import verify_costs
from bench.wrk import LUA_SCRIPT, ensure_wrk, parse_wrk_output, pin
from devstack.ports import free_port

POST_SCRIPT = LUA_SCRIPT.with_name("post_json.lua")
_TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class HostRun:
    label: str
    rps: float
    cpu_us_per_request: float
    best_cpu_us_per_request: float  # the least disturbed run
    core_share: float  # of one core
    errors: int


def drive(
    wrk: str,
    url: str,
    pid: int,
    *,
    body: str,
    key: str,
    connections: int,
    duration_s: int,
    cpu: int | None = LOAD_CPU,
) -> tuple[float, float, float, int]:
    """(req/s, host CPU µs per request, host share of a core, errors) of one wrk run."""
    cmd = pin(
        [wrk, "-t1", f"-c{connections}", f"-d{duration_s}s", "-s", str(POST_SCRIPT), url], cpu
    )
    env = {**os.environ, "BENCH_BODY": body, "BENCH_API_KEY": key}
    before = cpu_seconds(pid) * 1e6
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    spent = cpu_seconds(pid) * 1e6 - before
    result = parse_wrk_output(done.stdout)
    return (
        result.rps,
        spent / max(result.requests, 1),
        spent / (result.duration_s * 1e6),
        result.errors,
    )


def host_runs(
    *, connections: int, duration_s: int, rounds: int, baseline_ref: str | None
) -> list[HostRun]:
    wrk = ensure_wrk()
    keys = Secrets.generate()
    with tempfile.TemporaryDirectory(prefix="bench-host-") as tmp:
        d1_path = Path(tmp) / "d1.sqlite3"
        principal = seed_principal(d1_path, secret=keys.better_auth)
        trees = {"this tree": REPO}
        for ref in (baseline_ref or "").split(","):
            if ref.strip():
                trees[f"at {ref.strip()}"] = source_at(
                    ref.strip(),
                    Path(tmp) / ref.strip(),
                    "devstack",
                    "worker/src",
                    "worker/migrations",
                )
        hosts: dict[str, tuple[Server, str]] = {}
        for name, cwd in trees.items():
            port = free_port()
            base = f"http://127.0.0.1:{port}/api/internal"
            server = worker_host_server(
                f"worker-host-{len(hosts)}",
                port,
                d1_path=d1_path,
                keys=keys,
                cpu=LOAD_CPU,
                log_dir=Path(tmp),
                cwd=cwd,
            )
            hosts[name] = (server, f"{base}/verify-user-context")
        cases = {
            "verify-user-context + organization": json.dumps(
                {"token": principal.token, "organization_id": principal.organization_id}
            ),
            "verify-user-context": json.dumps({"token": principal.token}),
        }
        samples: dict[str, list[tuple[float, float, float, int]]] = {}
        key = keys.internal_api_key
        with contextlib.ExitStack() as running:
            for server, _ in hosts.values():
                running.enter_context(server)
            for server, url in hosts.values():  # warm up
                drive(
                    wrk,
                    url,
                    server.pid,
                    body=cases["verify-user-context"],
                    key=key,
                    connections=10,
                    duration_s=1,
                )
            for _ in range(rounds):  # interleaved: every host and case once per round
                for name, (server, url) in hosts.items():
                    for label, body in cases.items():
                        samples.setdefault(f"{label} ({name})", []).append(
                            drive(
                                wrk,
                                url,
                                server.pid,
                                body=body,
                                key=key,
                                connections=connections,
                                duration_s=duration_s,
                            )
                        )
    return [
        HostRun(
            label=label,
            rps=statistics.median(s[0] for s in runs),
            cpu_us_per_request=statistics.median(s[1] for s in runs),
            best_cpu_us_per_request=min(s[1] for s in runs),
            core_share=statistics.median(s[2] for s in runs),
            errors=sum(s[3] for s in runs),
        )
        for label, runs in sorted(samples.items())
    ]


def main() -> int:
    connections = int(os.environ.get("HOST_CPU_CONNECTIONS") or 50)
    duration_s = int(os.environ.get("HOST_CPU_DURATION") or 5)
    rounds = int(os.environ.get("HOST_CPU_ROUNDS") or 3)
    calls = int(os.environ.get("HOST_CPU_CALLS") or 3000)
    baseline_ref = os.environ.get("HOST_CPU_BASELINE_REF") or None
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("| core, in process | µs/call | in SQLite µs | core µs | D1 trips |")
    print("|---|---:|---:|---:|---:|")
    for cost in verify_costs(calls=calls):
        print(
            f"| {cost.label} | {cost.us_per_call:.0f} | {cost.d1_us_per_call:.0f} "
            f"| {cost.core_us_per_call:.0f} | {cost.round_trips_per_call:.0f} |"
        )
    print(
        f"\n| Worker host, wrk -c{connections} "
        "| req/s | host CPU µs/req | best | host core | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for run in host_runs(
        connections=connections, duration_s=duration_s, rounds=rounds, baseline_ref=baseline_ref
    ):
        print(
            f"| {run.label} | {run.rps:,.0f} | {run.cpu_us_per_request:.0f} "
            f"| {run.best_cpu_us_per_request:.0f} "
            f"| {run.core_share:.0%} | {run.errors} |"
        )
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
