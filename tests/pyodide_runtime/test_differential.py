"""The same requests through the Worker under Pyodide and through the CPython host: same answers.

Two copies of one D1 file (Better Auth's real database, migrated), two hosts, two clocks frozen at
the same moment; `script.sequence` drives every route, success and refusal, and the cron. Any
difference is a bug in one host. At the end both databases must hold the same rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from connect_worker.app import ROUTES
from connect_worker.config import load_config
from connect_worker.errors import ApiError
from connect_worker.retention import prune_expired
from connect_worker.routing import Router

from devstack.sqlite_d1 import SqliteD1
from devstack.worker_host import build_deps, serve_in_thread
from tests.pyodide_runtime.conftest import API_KEY, FrozenClock, PyodideHost, worker_settings
from tests.pyodide_runtime.script import Cron, Ref, Step, sequence

pytestmark = pytest.mark.slow

WRONG_KEY = "w" * 40
# Columns whose value is random per host (compared for presence only).
RANDOM_COLUMNS = {"connect_webhook_event": {"claim_id"}}


class CPythonHost:
    def __init__(self, path: Path, settings: dict[str, str], clock: FrozenClock) -> None:
        self.config = load_config(settings)
        self.clock = clock
        self.path = path
        self.hosted = serve_in_thread(self.config, path, now=clock)
        self.url = self.hosted.url

    def scheduled(self) -> None:
        db = SqliteD1(self.path)
        try:
            asyncio.run(prune_expired(build_deps(self.config, db, now=self.clock)))
        finally:
            db.close()

    def stop(self) -> None:
        self.hosted.stop()
        self.hosted.db.close()


@pytest.fixture
def cpython_host(
    base_db: tuple[Path, dict[str, Any]], tmp_path: Path, start_time: float
) -> Iterator[CPythonHost]:
    path = tmp_path / "cpython.sqlite3"
    shutil.copyfile(base_db[0], path)
    host = CPythonHost(path, worker_settings(base_db[1]["secret"]), FrozenClock(start_time))
    yield host
    host.stop()


def _resolve(value: Any, refs: dict[str, Any]) -> Any:
    if isinstance(value, Ref):
        return refs.get(value.name, f"<no {value.name} captured>")
    if isinstance(value, dict):
        return {k: _resolve(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, refs) for v in value]
    return value


def trace_id_of(step: Step) -> str:
    """The step's own W3C trace id: both hosts get the same `traceparent`, so their error bodies'
    `request_id` match, and each host's log line for the step can be found by it."""
    return hashlib.sha256(step.name.encode()).hexdigest()[:32]


def _send(client: httpx.Client, url: str, step: Step, refs: dict[str, Any]) -> httpx.Response:
    headers = {"content-type": "application/json"}
    headers["traceparent"] = f"00-{trace_id_of(step)}-00f067aa0ba902b7-01"
    if step.key == "api":
        headers["x-api-key"] = API_KEY
    elif step.key == "wrong":
        headers["x-api-key"] = WRONG_KEY
    content: bytes | None = step.raw
    if content is None and step.body is not None:
        content = httpx.Request("POST", url, json=_resolve(step.body, refs)).content
    return client.request(step.method, url + step.path, content=content, headers=headers)


def _answer(
    response: httpx.Response, step: Step, refs: dict[str, Any]
) -> tuple[int, Any, dict[str, str | None]]:
    """Status, JSON (captured values masked) and the headers the contract names."""
    payload = response.json()
    for ref, field_name in step.capture.items():
        value = payload.get(field_name) if isinstance(payload, dict) else None
        if isinstance(value, str) and value:
            refs[ref] = value
            payload = {**payload, field_name: "<captured>"}
    headers = {name: response.headers.get(name) for name in ("content-type", "allow")}
    return response.status_code, payload, headers


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r[0].startswith("sqlite_")
        ]
        dump: dict[str, list[tuple[Any, ...]]] = {}
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            names = [c[0] for c in cursor.description]
            masked = RANDOM_COLUMNS.get(table, set())
            dump[table] = sorted(
                (
                    tuple(
                        ("<random>" if v is not None else None) if n in masked else v
                        for n, v in zip(names, row, strict=True)
                    )
                    for row in cursor
                ),
                key=repr,
            )
        return dump
    finally:
        conn.close()


def _route_of(step: Step) -> tuple[str, str] | None:
    router: Router[tuple[str, str]] = Router({key: key for key in ROUTES})
    try:
        return router.match(step.method, step.path).handler
    except ApiError:
        return None


def test_every_route_answers_the_same_under_pyodide_and_cpython(
    pyodide_host: PyodideHost,
    cpython_host: CPythonHost,
    base_db: tuple[Path, dict[str, Any]],
    start_time: float,
) -> None:
    steps = sequence(base_db[1])
    covered = {_route_of(s) for s in steps if isinstance(s, Step)}
    missing = set(ROUTES) - covered
    assert not missing, f"routes with no step in tests/pyodide_runtime/script.py: {sorted(missing)}"

    now = start_time
    pyodide_host.set_clock(now)
    refs: dict[str, dict[str, Any]] = {"pyodide": {}, "cpython": {}}
    differences: list[str] = []
    with httpx.Client(timeout=60) as client:
        for step in steps:
            if step.advance:
                now += step.advance
                pyodide_host.set_clock(now)
                cpython_host.clock.now = now
            if isinstance(step, Cron):
                pyodide_host.scheduled()
                cpython_host.scheduled()
                continue
            ours = _answer(
                _send(client, pyodide_host.url, step, refs["pyodide"]), step, refs["pyodide"]
            )
            theirs = _answer(
                _send(client, cpython_host.url, step, refs["cpython"]), step, refs["cpython"]
            )
            if ours != theirs or ours[0] >= 500:
                differences.append(f"{step.name}:\n  pyodide {ours}\n  cpython {theirs}")
            elif ours[0] >= 400 and ours[1]["error"].get("request_id") != trace_id_of(step):
                differences.append(f"{step.name}: error body without the caller's trace id")
    assert not differences, "\n".join(
        [*differences, "Pyodide host log:", *pyodide_host.process.log]
    )
    pyodide_rows = _dump(pyodide_host.db_path)
    assert pyodide_rows == _dump(cpython_host.path)
    _assert_one_log_line_per_request(pyodide_host.process.log, steps)


def _assert_one_log_line_per_request(log: list[str], steps: list[Step | Cron]) -> None:
    """Under Pyodide, each request wrote one JSON line (the entry module's stdout: what Workers
    Logs ingests) under the trace id the caller sent, with its route, status and D1 time."""
    lines: dict[str, dict[str, Any]] = {}
    for text in log:
        if text.startswith("{"):
            line = json.loads(text)
            if line.get("logger") == "connect_worker.request":
                lines[line["trace_id"]] = line
    for step in steps:
        if not isinstance(step, Step):
            continue
        line = lines.get(trace_id_of(step))
        assert line is not None, f"no request line for {step.name}"
        assert line["request_id"] == line["trace_id"]
        assert line["method"] == step.method
        assert isinstance(line["status"], int)
        assert isinstance(line["d1_ms"], float | int)
        assert line["route"] == "unmatched" or line["route"].startswith("/api/internal/")
