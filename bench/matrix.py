"""The HTTP matrix: every route at every concurrency, interleaved round by round.

Interleaving (round 1: all cells, round 2: all cells, …) means a slow patch of the machine hits
every route, so the per-round ratios hold even when the absolute numbers drift.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bench.machine import cpu_seconds
from bench.wrk import WrkResult, run_wrk


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    url: str
    token: str | None = None
    # role ("server", "worker") -> pid, sampled for CPU use during each run
    pids: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Run:
    result: WrkResult
    # role -> CPU used during the run, as a fraction of one core (1.0 = one core saturated)
    cpu: Mapping[str, float]
    # role -> CPU microseconds per request: robust on a busy machine, where req/s is not
    cpu_us_per_request: Mapping[str, float] = field(default_factory=dict)


Cells = dict[tuple[str, int], list[Run]]


def check_target(target: Target) -> object:
    """One request first: a benchmark of 401s or 404s would be fast and meaningless."""
    request = urllib.request.Request(target.url)  # noqa: S310 - loopback URL we built
    if target.token:
        request.add_header("Authorization", f"Bearer {target.token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        body = err.read()[:300].decode(errors="replace")
        raise RuntimeError(f"{target.name}: {target.url} answered {err.code}: {body}") from None


def run_matrix(
    wrk: str,
    targets: Sequence[Target],
    *,
    concurrencies: Sequence[int],
    rounds: int,
    duration_s: float,
    wrk_cpu: int | None,
    progress: Callable[[str], None] = lambda _: None,
) -> Cells:
    for target in targets:
        check_target(target)
        run_wrk(wrk, target.url, connections=10, duration_s=1, cpu=wrk_cpu, token=target.token)
    cells: Cells = {}
    for index in range(rounds):
        # Rotate the order each round so no route always runs right after the same neighbour.
        order = list(targets[index % len(targets) :]) + list(targets[: index % len(targets)])
        for conns in concurrencies:
            for target in order:
                run = _one(wrk, target, conns=conns, duration_s=duration_s, wrk_cpu=wrk_cpu)
                cells.setdefault((target.name, conns), []).append(run)
                progress(
                    f"round {index + 1}/{rounds} {target.name:>14} c={conns:<3} "
                    f"{run.result.rps:>9,.0f} req/s  p99 {run.result.p99_ms:6.2f} ms  "
                    + "  ".join(f"{role} cpu {v:4.0%}" for role, v in run.cpu.items())
                )
    return cells


def _one(wrk: str, target: Target, *, conns: int, duration_s: float, wrk_cpu: int | None) -> Run:
    before = {role: cpu_seconds(pid) for role, pid in target.pids.items()}
    started = time.monotonic()
    result = run_wrk(
        wrk, target.url, connections=conns, duration_s=duration_s, cpu=wrk_cpu, token=target.token
    )
    wall = time.monotonic() - started
    used = {role: cpu_seconds(pid) - before[role] for role, pid in target.pids.items()}
    per_request = {role: v / max(1, result.requests) * 1e6 for role, v in used.items()}
    return Run(
        result=result,
        cpu={role: v / wall for role, v in used.items()},
        cpu_us_per_request=per_request,
    )
