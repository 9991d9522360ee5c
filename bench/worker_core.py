"""The Worker's core on CPython, in-process: cost of one `verify-user-context`, and import time.

`verify-user-context` runs through the whole pipeline (`connect_worker.app.handle`: API key,
routing, JSON body, validation, the D1 batch, the JSON reply) against SQLite, with no HTTP. The
D1 time is measured inside the adapter, so the rest is the core's own CPU per call. Import time
is measured in fresh interpreters, a proxy for a Python Worker's cold start.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import REPO

WORKER_SRC = REPO / "worker" / "src"
CORE_MODULE = "connect_worker.app"
_IMPORTTIME = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S+)")


@dataclass(frozen=True, slots=True)
class CallCost:
    label: str
    calls: int
    us_per_call: float
    d1_us_per_call: float
    round_trips_per_call: float
    status: int

    @property
    def core_us_per_call(self) -> float:
        return self.us_per_call - self.d1_us_per_call


@dataclass(frozen=True, slots=True)
class ImportCost:
    cold_ms: float  # the core compiled from source (stdlib bytecode cached, as on Workers)
    warm_ms: float  # bytecode cached (what a deployed bundle with .pyc would pay)
    importtime_ms: float  # -X importtime cumulative for the core module (warm)
    heaviest: list[tuple[str, float]]  # (module, self ms), warm


def parse_importtime(stderr: str, *, module: str) -> tuple[float, list[tuple[str, float]]]:
    """`module`'s cumulative ms, and every module's self ms (largest first), from -X importtime."""
    total_us = 0
    selfs: list[tuple[str, float]] = []
    for line in stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if not match:
            continue
        self_us, cumulative_us, name = match.groups()
        selfs.append((name, int(self_us) / 1000))
        if name == module:
            total_us = int(cumulative_us)
    selfs.sort(key=lambda item: item[1], reverse=True)
    return total_us / 1000, selfs


def import_cost(*, runs: int = 7) -> ImportCost:
    """Imports the core from a fresh copy of its source, so no stale bytecode skews "cold"."""
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        src = Path(tmp)
        shutil.copytree(
            WORKER_SRC / "connect_worker",
            src / "connect_worker",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        cold = _median_import_ms(runs, src=src, write_bytecode=False)
        _run_python(f"import {CORE_MODULE}", src=src, write_bytecode=True)  # cache bytecode
        warm = _median_import_ms(runs, src=src, write_bytecode=False)
        stderr = _run_python(f"import {CORE_MODULE}", src=src, importtime=True)
    total, selfs = parse_importtime(stderr, module=CORE_MODULE)
    return ImportCost(cold_ms=cold, warm_ms=warm, importtime_ms=total, heaviest=selfs[:6])


def _median_import_ms(runs: int, *, src: Path, write_bytecode: bool) -> float:
    """Wall time of `python -c 'import core'` minus `python -c 'pass'`, median of paired runs."""
    deltas = []
    for _ in range(runs):
        started = time.perf_counter()
        _run_python("pass", src=src, write_bytecode=write_bytecode)
        base = time.perf_counter() - started
        started = time.perf_counter()
        _run_python(f"import {CORE_MODULE}", src=src, write_bytecode=write_bytecode)
        deltas.append(time.perf_counter() - started - base)
    return statistics.median(deltas) * 1000


def _run_python(
    code: str, *, src: Path, write_bytecode: bool = False, importtime: bool = False
) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(src)
    if not write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", code]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=60)
    return done.stderr


def verify_costs(*, calls: int = 3000) -> list[CallCost]:
    """µs per `verify-user-context` through the core, with and without an organization."""
    return asyncio.run(_verify_costs(calls))


async def _verify_costs(calls: int) -> list[CallCost]:
    from connect_worker.app import handle
    from connect_worker.config import load_config
    from connect_worker.http import Request

    from bench.stack import seed_principal
    from devstack.sqlite_d1 import SqliteD1
    from devstack.worker_host import build_deps

    class TimedD1(SqliteD1):
        """SqliteD1 that also adds up the wall time spent in SQLite (the D1 share)."""

        spent = 0.0

        def execute(self, statement: Any) -> Any:
            started = time.perf_counter()
            try:
                return super().execute(statement)
            finally:
                self.spent += time.perf_counter() - started

        async def batch(self, statements: Sequence[Any]) -> Any:
            started = time.perf_counter()
            try:
                return await super().batch(statements)
            finally:
                self.spent += time.perf_counter() - started

    key = "k" * 48
    secret = "s" * 40
    with tempfile.TemporaryDirectory(prefix="bench-core-") as tmp:
        path = Path(tmp) / "d1.sqlite3"
        principal = seed_principal(path, secret=secret)
        config = load_config({"INTERNAL_API_KEYS": f"v1:{key}", "BETTER_AUTH_SECRET": secret})
        db = TimedD1(path)
        deps = build_deps(config, db)
        cases = [
            ("signed token + organization (hot path)", principal.organization_id),
            ("signed token, no organization", None),
        ]
        results = []
        try:
            for label, org in cases:
                body: dict[str, Any] = {"token": principal.token}
                if org is not None:
                    body["organization_id"] = org
                request = Request(
                    method="POST",
                    path="/api/internal/verify-user-context",
                    headers={"x-api-key": key},
                    body=json.dumps(body).encode(),
                )
                for _ in range(200):  # warm caches (statement cache, allocator)
                    response = await handle(request, deps=deps)
                db.spent, trips_before = 0.0, db.round_trips
                started = time.perf_counter()
                for _ in range(calls):
                    response = await handle(request, deps=deps)
                    response.body()  # the JSON reply is part of the cost
                elapsed = time.perf_counter() - started
                results.append(
                    CallCost(
                        label=label,
                        calls=calls,
                        us_per_call=elapsed / calls * 1e6,
                        d1_us_per_call=db.spent / calls * 1e6,
                        round_trips_per_call=(db.round_trips - trips_before) / calls,
                        status=response.status,
                    )
                )
        finally:
            db.close()
    return results
