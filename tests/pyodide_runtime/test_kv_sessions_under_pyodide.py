"""Sessions in secondary storage under Pyodide: the real entry module, the `workers` SDK's own
binding wrapper around the KV stand-in (`kv.mjs`, class `KvNamespace`), and the same answers as the
CPython host over the same data — what real better-auth wrote through `secondaryStorage`
(`tests/fixtures/better_auth_kv/`; the CPython host's answers equal the D1 path's in
`tests/worker/test_kv_sessions.py`)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from connect_worker.config import load_config

from devstack.pyodide_worker import PyodideWorkerProcess, start_pyodide_worker
from devstack.sqlite_kv import write_entries
from devstack.worker_host import HostedWorker, serve_in_thread
from tests.fixtures.kv_sessions import KvWorld, fixture_time, make_kv_world
from tests.pyodide_runtime.conftest import API_KEY, FrozenClock, worker_settings
from tests.worker.conftest import TRACEPARENT, without_request_id

pytestmark = pytest.mark.slow

VERIFY = "/api/internal/verify-user-context"
DAY = 86_400.0


@dataclass
class Side:
    url: str
    d1_path: Path
    kv_path: Path


@dataclass
class Pair:
    world: KvWorld
    pyodide: Side
    cpython: Side
    process: PyodideWorkerProcess
    hosted: HostedWorker
    clock: FrozenClock
    client: httpx.Client

    def set_clock(self, now: float) -> None:
        self.clock.now = now
        response = self.client.post(
            f"{self.pyodide.url}/__clock", json={"now_ms": round(now * 1000)}
        )
        response.raise_for_status()

    def write_kv(self, entries: dict[str, tuple[str, int | None]]) -> None:
        for side in (self.pyodide, self.cpython):
            write_entries(side.kv_path, entries)

    def sql(self, statement: str, *params: Any) -> None:
        for side in (self.pyodide, self.cpython):
            conn = sqlite3.connect(side.d1_path, isolation_level=None)
            try:
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute(statement, params)
            finally:
                conn.close()

    def ask(self, body: Any) -> tuple[int, Any]:
        answers = []
        for side in (self.pyodide, self.cpython):
            response = self.client.post(
                side.url + VERIFY,
                json=body,
                headers={"x-api-key": API_KEY, "traceparent": TRACEPARENT},
            )
            answers.append((response.status_code, without_request_id(response.json())))
        assert answers[0] == answers[1], f"{body}\n  pyodide {answers[0]}\n  cpython {answers[1]}"
        return answers[0]


def _settings(world: KvWorld) -> dict[str, str]:
    return {**worker_settings(world.secret), "BETTER_AUTH_SESSION_STORAGE": "secondary"}


@pytest.fixture
def pair(tmp_path: Path, harness_installed: None) -> Iterator[Pair]:
    world = make_kv_world(tmp_path / "world")
    sides = {}
    for name in ("pyodide", "cpython"):
        folder = tmp_path / name
        folder.mkdir()
        d1, kv = folder / "d1.sqlite3", folder / "kv.sqlite3"
        shutil.copyfile(world.d1_path, d1)
        shutil.copyfile(world.kv_path, kv)
        sides[name] = (d1, kv)
    clock = FrozenClock(fixture_time(world.data))
    process = start_pyodide_worker(
        _settings(world), sides["pyodide"][0], test_controls=True, kv_path=sides["pyodide"][1]
    )
    hosted = serve_in_thread(
        load_config(_settings(world)), sides["cpython"][0], now=clock, kv_path=sides["cpython"][1]
    )
    client = httpx.Client(timeout=60)
    try:
        found = Pair(
            world,
            Side(process.url, *sides["pyodide"]),
            Side(hosted.url, *sides["cpython"]),
            process,
            hosted,
            clock,
            client,
        )
        found.set_clock(clock.now)
        yield found
    finally:
        client.close()
        process.stop()
        hosted.stop()
        hosted.db.close()


def test_sessions_from_kv_answer_the_same_under_pyodide_and_cpython(pair: Pair) -> None:
    world, orgs = pair.world, pair.world.data["organizations"]
    users = world.data["users"]
    for side in (pair.pyodide, pair.cpython):  # health reads the session KV as well
        health = pair.client.get(side.url + "/api/internal/health", headers={"x-api-key": API_KEY})
        assert (health.status_code, health.json()) == (200, {"ok": True})
    for user, session in (("alice", "sign_in"), ("alice", "sign_up"), ("bob", "sign_up")):
        signed = world.signed(user, session)
        for token in (world.token(user, session), signed, quote(signed, safe="")):
            for org in (None, orgs["acme"], orgs["globex"], "no-such-org"):
                status, body = pair.ask({"token": token, "organization_id": org})
                assert status in (200, 403), body
    status, body = pair.ask(
        {"token": world.signed("alice", "sign_in"), "organization_id": orgs["acme"]}
    )
    assert (status, body["role"], body["active_organization_id"]) == (200, "owner", orgs["acme"])

    refused = [world.signed("carol", "signed_out"), world.signed("dave", "revoked"), "A" * 32]
    refused += [k for k in world.data["namespace"] if k.startswith(("active-", "revoked-"))]
    for token in refused:
        assert pair.ask({"token": token})[0] == 401, token

    # A revoked session a stale KV replica still serves: the revoked-before mark refuses it.
    pair.write_kv({world.token("dave", "revoked"): (users["dave"]["revoked_value"], None)})
    assert pair.ask({"token": world.signed("dave", "revoked")})[0] == 401

    # Malformed values under a live token: invalid, never a 500.
    token = world.token("alice", "sign_in")
    original = world.data["namespace"][token]
    value = json.loads(original["value"])
    for raw in ("{not json", "[]", json.dumps({**value, "user": {**value["user"], "id": "x"}})):
        pair.write_kv({token: (raw, None)})
        status, body = pair.ask({"token": world.signed("alice", "sign_in")})
        assert (status, body["error"]["code"]) == (401, "invalid_token")
    pair.write_kv({token: (original["value"], None)})  # kept past KV's own expiry, for below

    # A user deleted from D1 has no session, whatever KV holds.
    pair.sql('DELETE FROM "user" WHERE "id" = ?', users["bob"]["id"])
    assert pair.ask({"token": world.signed("bob", "sign_up")})[0] == 401

    # Expiry: KV drops the 1-day session by itself; the 7-day one is refused by the Worker's
    # own check once past its expiresAt, though (written without expiration) KV still holds it.
    pair.set_clock(pair.clock.now + DAY + 60)
    assert pair.ask({"token": world.signed("alice", "not_remembered")})[0] == 401
    assert pair.ask({"token": world.signed("alice", "sign_in")})[0] == 200
    pair.set_clock(pair.clock.now + 6 * DAY)
    assert pair.ask({"token": world.signed("alice", "sign_in")})[0] == 401
    assert not [line for line in pair.process.log if "Traceback" in line], pair.process.log


def test_secondary_storage_without_the_binding_is_misconfigured_not_a_wrong_answer(
    tmp_path: Path, harness_installed: None
) -> None:
    world = make_kv_world(tmp_path)
    process = start_pyodide_worker(_settings(world), world.d1_path)
    try:
        response = httpx.post(
            process.url + VERIFY,
            json={"token": world.signed("alice", "sign_in")},
            headers={"x-api-key": API_KEY},
            timeout=60,
        )
        assert (response.status_code, response.json()["error"]["code"]) == (500, "misconfigured")
        deadline = time.monotonic() + 15  # the host's output reaches `log` through a pump thread
        while not any("needs the SESSIONS_KV KV binding" in line for line in process.log):
            assert time.monotonic() < deadline, process.log
            time.sleep(0.05)
    finally:
        process.stop()
