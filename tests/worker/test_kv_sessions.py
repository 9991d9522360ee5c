"""Sessions in Better Auth's secondary storage (Workers KV): the same answers as from D1.

The data is what real better-auth wrote through its `secondaryStorage` interface
(`tests/fixtures/better_auth_kv/`). Every token is asked of the Worker twice: configured for
secondary storage over that KV namespace, and configured for the database over a twin D1 holding
the same sessions as `session` rows. Both answers must be identical, and must agree with the
library's own `getSession` verdicts recorded in the fixture.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from connect_worker.app import handle
from connect_worker.config import ConfigError, load_config
from connect_worker.deps import Deps
from connect_worker.http import Request

from devstack.sqlite_d1 import SqliteD1
from devstack.sqlite_kv import SqliteKV, write_entries
from devstack.worker_host import build_deps, open_kv
from tests.fixtures.kv_sessions import (
    KV_FIXTURE,
    KvWorld,
    fixture_time,
    load_fixture,
    make_kv_world,
)
from tests.fixtures.worker import ShiftableClock
from tests.worker.conftest import REPO, TRACEPARENT, without_request_id

KEY = "k" * 40
DAY = 86_400.0
VERIFY = "/api/internal/verify-user-context"


@dataclass
class Hosts:
    world: KvWorld
    clock: ShiftableClock
    kv: SqliteKV
    kv_db: SqliteD1
    twin_db: SqliteD1
    built: dict[str, Deps] = field(default_factory=dict)

    def settings(self, storage: str) -> dict[str, str]:
        return {
            "INTERNAL_API_KEYS": f"v1:{KEY}",
            "BETTER_AUTH_SECRET": self.world.secret,
            "BETTER_AUTH_SESSION_STORAGE": storage,
        }

    def deps(self, storage: str) -> Deps:
        """One Deps per storage, as one host keeps: its first request's schema check done once."""
        if storage not in self.built:
            config = load_config(self.settings(storage))
            if storage == "secondary":
                deps = build_deps(config, self.kv_db, now=self.clock, kv=self.kv)
            else:
                deps = build_deps(config, self.twin_db, now=self.clock)
            self.built[storage] = deps
        return self.built[storage]

    async def ask(self, storage: str, body: Any) -> tuple[int, Any]:
        deps = self.deps(storage)
        headers = {"x-api-key": KEY, "traceparent": TRACEPARENT}
        request = Request("POST", VERIFY, headers, json.dumps(body).encode())
        response = await handle(request, deps=deps)
        return response.status, without_request_id(json.loads(response.body()))

    async def both(self, body: Any) -> tuple[int, Any]:
        """The answer from KV, after checking the database twin gives the same one."""
        from_kv = await self.ask("secondary", body)
        from_d1 = await self.ask("database", body)
        assert from_kv == from_d1, f"KV {from_kv}\nD1 {from_d1}"
        return from_kv


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return load_fixture()


@pytest.fixture
def hosts(tmp_path: Path, data: dict[str, Any]) -> Iterator[Hosts]:
    world = make_kv_world(tmp_path, data)
    clock = ShiftableClock(fixture_time(data))
    kv = SqliteKV(world.kv_path, now=clock)
    kv_db, twin_db = SqliteD1(world.d1_path), SqliteD1(world.twin_path)
    yield Hosts(world, clock, kv, kv_db, twin_db)
    kv.close()
    kv_db.close()
    twin_db.close()


def _tokens(world: KvWorld) -> list[str]:
    """Every live token in each form Better Auth's bearer() accepts."""
    out = []
    for user, session in (
        ("alice", "sign_up"),
        ("alice", "sign_in"),
        ("alice", "not_remembered"),
        ("bob", "sign_up"),
    ):
        signed = world.signed(user, session)
        out += [world.token(user, session), signed, quote(signed, safe="")]
    return out


async def test_every_live_token_gets_the_same_answer_from_kv_as_from_d1(hosts: Hosts) -> None:
    orgs = hosts.world.data["organizations"]
    for token in _tokens(hosts.world):
        for organization_id in (None, orgs["acme"], orgs["globex"], "org_that_does_not_exist"):
            body = {"token": token, "organization_id": organization_id}
            status, _ = await hosts.both(body)
            assert status in (200, 403)


async def test_the_workers_verdict_is_the_librarys_own(hosts: Hosts, data: dict[str, Any]) -> None:
    await _agree_with_the_library(hosts, data)


@pytest.fixture
def fresh_run(tmp_path: Path) -> Path:
    """The generator run now, against the better-auth auth_app/ has installed."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    out = tmp_path / "fresh"
    out.mkdir()
    done = subprocess.run(
        ["node", str(KV_FIXTURE / "kv_probe.mjs")],
        env={**os.environ, "OUT_DIR": str(out)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.mark.slow
async def test_a_fresh_run_of_the_installed_library_gets_the_same_verdicts(
    tmp_path: Path, fresh_run: Path
) -> None:
    """If the installed library's format drifts from the committed fixture's, this fails."""
    out = fresh_run
    data = json.loads((out / "kv.json").read_text())
    world = make_kv_world(tmp_path / "world", data, auth_db=out / "auth.db")
    clock = ShiftableClock(fixture_time(data))
    kv = SqliteKV(world.kv_path, now=clock)
    kv_db, twin_db = SqliteD1(world.d1_path), SqliteD1(world.twin_path)
    try:
        hosts = Hosts(world, clock, kv, kv_db, twin_db)
        await _agree_with_the_library(hosts, data)
        for token in _tokens(world):
            await hosts.both({"token": token, "organization_id": data["organizations"]["acme"]})
    finally:
        kv.close()
        kv_db.close()
        twin_db.close()


async def _agree_with_the_library(hosts: Hosts, data: dict[str, Any]) -> None:
    verdicts = data["library_get_session"]
    sessions = {
        "alice": ("alice", "sign_up"),
        "aliceIn": ("alice", "sign_in"),
        "aliceShort": ("alice", "not_remembered"),
        "bob": ("bob", "sign_up"),
        "carol": ("carol", "signed_out"),
        "dave": ("dave", "revoked"),
    }
    for name, (user, session) in sessions.items():
        status, body = await hosts.ask("secondary", {"token": hosts.world.signed(user, session)})
        library = verdicts[name]
        if library is None:
            assert (status, body["error"]["code"]) == (401, "invalid_token"), name
        else:
            assert status == 200, (name, body)
            assert body["user"]["id"] == library["user_id"]
            assert body["active_organization_id"] == library["active_organization_id"]


async def test_roles_and_the_organization_come_from_d1(hosts: Hosts, data: dict[str, Any]) -> None:
    acme = data["organizations"]["acme"]
    status, body = await hosts.both(
        {"token": hosts.world.signed("bob", "sign_up"), "organization_id": acme}
    )
    assert status == 200
    assert (body["role"], body["organization"]["slug"]) == ("member", "acme")
    assert (
        body["session"]["id"]
        == json.loads(data["namespace"][hosts.world.token("bob", "sign_up")]["value"])["session"][
            "id"
        ]
    )
    assert body["memberships"] == [{"organization_id": acme, "role": "member"}]


async def test_one_d1_round_trip_and_two_kv_reads_per_token(hosts: Hosts) -> None:
    await hosts.ask("secondary", {"token": "warm-up"})  # the first request's schema check
    before_d1, before_kv = hosts.kv_db.round_trips, hosts.kv.reads
    status, _ = await hosts.ask("secondary", {"token": hosts.world.signed("alice", "sign_in")})
    assert status == 200
    assert (hosts.kv_db.round_trips - before_d1, hosts.kv.reads - before_kv) == (1, 2)


async def test_a_revoked_session_a_stale_kv_replica_still_serves_is_refused(
    hosts: Hosts, data: dict[str, Any]
) -> None:
    # The library refused this exact read (`dave_stale_read`): its revoked-before mark applies.
    assert data["library_get_session"]["dave_stale_read"] is None
    dave = data["users"]["dave"]
    token = hosts.world.token("dave", "revoked")
    write_entries(hosts.world.kv_path, {token: (dave["revoked_value"], None)})
    body = {"token": token}
    assert (await hosts.ask("secondary", body))[0] == 401
    mark = f"revoked-sessions-before-{dave['id']}"
    await hosts.kv.delete(mark)
    status, answer = await hosts.ask("secondary", body)
    assert (status, answer["user"]["id"]) == (200, dave["id"])


async def test_expired_sessions_are_refused_as_on_d1_even_if_kv_still_holds_them(
    hosts: Hosts, data: dict[str, Any]
) -> None:
    # KV would drop an expired key by itself; store them without expiry to test the check itself.
    write_entries(
        hosts.world.kv_path,
        {k: (v["value"], None) for k, v in data["namespace"].items()},
    )
    short = {"token": hosts.world.signed("alice", "not_remembered")}
    week = {"token": hosts.world.signed("alice", "sign_in")}
    hosts.clock.advance(DAY)
    assert (await hosts.both(short))[0] == 401
    assert (await hosts.both(week))[0] == 200
    hosts.clock.advance(6 * DAY)
    status, body = await hosts.both(week)
    assert (status, body["error"]["code"]) == (401, "invalid_token")


async def test_a_session_kv_has_expired_is_gone(hosts: Hosts) -> None:
    hosts.clock.advance(DAY + 60)
    assert await hosts.kv.get(hosts.world.token("alice", "not_remembered")) is None
    assert (await hosts.both({"token": hosts.world.signed("alice", "not_remembered")}))[0] == 401


async def test_missing_and_signed_out_sessions_are_invalid(hosts: Hosts) -> None:
    for token in ("A" * 32, hosts.world.signed("carol", "signed_out")):
        status, body = await hosts.both({"token": token})
        assert (status, body["error"]["code"]) == (401, "invalid_token")


async def test_a_user_deleted_from_d1_has_no_session(hosts: Hosts, data: dict[str, Any]) -> None:
    alice = data["users"]["alice"]["id"]
    for path in (hosts.world.d1_path, hosts.world.twin_path):
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute('DELETE FROM "user" WHERE "id" = ?', (alice,))
        conn.close()
    status, body = await hosts.both({"token": hosts.world.signed("alice", "sign_in")})
    assert (status, body["error"]["code"]) == (401, "invalid_token")


def _malformed(value: dict[str, Any], token: str) -> list[str]:
    session, user = value["session"], value["user"]
    other = {**value, "session": {**session, "token": "B" * 32}}
    return [
        "{not json",
        "[]",
        "null",
        "42",
        '"text"',
        json.dumps({"session": session}),
        json.dumps({"user": user}),
        json.dumps(other),  # stored under another token's key
        json.dumps({**value, "user": {**user, "id": "someone-else"}}),
        json.dumps({**value, "session": {**session, "userId": 7}}),
        json.dumps({**value, "session": {**session, "expiresAt": "soon"}}),
        json.dumps({**value, "session": {**session, "expiresAt": None}}),
        json.dumps({**value, "session": {**session, "createdAt": "yesterday"}}),
        json.dumps({**value, "session": {**session, "id": True}}),
        json.dumps({**value, "session": {**session, "id": "x" * 300}}),
        json.dumps({**value, "session": {**session, "activeOrganizationId": ["a"]}}),
        json.dumps({**value, "session": {**session, "ipAddress": float("nan")}}),  # not JSON
    ]


async def test_malformed_values_are_invalid_tokens_and_the_log_names_no_token(
    hosts: Hosts, caplog: pytest.LogCaptureFixture
) -> None:
    token = hosts.world.token("alice", "sign_in")
    value = hosts.world.session_values()[token]
    caplog.set_level(logging.WARNING, logger="connect_worker")
    for raw in _malformed(value, token):
        await hosts.kv.put(token, raw)
        status, body = await hosts.ask(
            "secondary", {"token": hosts.world.signed("alice", "sign_in")}
        )
        assert (status, body["error"]["code"]) == (401, "invalid_token"), raw
    assert "not Better Auth's shape" in caplog.text
    assert token not in caplog.text


async def test_another_key_of_the_namespace_never_passes_for_a_session(
    hosts: Hosts, data: dict[str, Any]
) -> None:
    # `active-sessions-<id>` and `revoked-sessions-before-<id>` match the raw-token pattern.
    for key in data["namespace"]:
        if not key.startswith(("active-sessions-", "revoked-sessions-before-")):
            continue
        status, body = await hosts.ask("secondary", {"token": key})
        assert (status, body["error"]["code"]) == (401, "invalid_token"), key


async def test_a_failing_kv_is_a_503_never_a_wrong_answer(hosts: Hosts) -> None:
    hosts.kv.close()
    status, body = await hosts.ask("secondary", {"token": hosts.world.signed("alice", "sign_in")})
    assert (status, body["error"]["code"]) == (503, "session_store_unavailable")
    assert hosts.world.token("alice", "sign_in") not in json.dumps(body)


async def test_health_checks_the_session_kv_too(hosts: Hosts) -> None:
    config = load_config(hosts.settings("secondary"))
    deps = build_deps(config, hosts.kv_db, now=hosts.clock, kv=hosts.kv)
    request = Request("GET", "/api/internal/health", {"x-api-key": KEY}, b"")
    assert (await handle(request, deps=deps)).status == 200
    hosts.kv.close()
    response = await handle(request, deps=deps)
    assert response.status == 503
    assert json.loads(response.body())["error"]["code"] == "session_store_unavailable"


def test_the_setting_takes_database_or_secondary_only() -> None:
    base = {"INTERNAL_API_KEYS": f"v1:{KEY}", "BETTER_AUTH_SECRET": "s" * 32}
    assert load_config(base).session_storage == "database"
    assert load_config({**base, "BETTER_AUTH_SESSION_STORAGE": " Secondary "}).session_storage == (
        "secondary"
    )
    with pytest.raises(ConfigError, match="BETTER_AUTH_SESSION_STORAGE must be one of"):
        load_config({**base, "BETTER_AUTH_SESSION_STORAGE": "kv"})


def test_secondary_storage_without_a_kv_refuses_to_start() -> None:
    base = {"INTERNAL_API_KEYS": f"v1:{KEY}", "BETTER_AUTH_SECRET": "s" * 32}
    config = load_config({**base, "BETTER_AUTH_SESSION_STORAGE": "secondary"})
    with pytest.raises(ConfigError, match="needs SESSIONS_KV_PATH"):
        open_kv(config, None, now=lambda: 0.0)
    assert open_kv(load_config(base), None, now=lambda: 0.0) is None


def test_the_worker_host_will_not_start_in_secondary_mode_without_its_kv(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "INTERNAL_API_KEYS": f"v1:{KEY}",
        "BETTER_AUTH_SECRET": "s" * 32,
        "BETTER_AUTH_SESSION_STORAGE": "secondary",
        "D1_DATABASE_PATH": str(tmp_path / "d1.sqlite3"),
        "WORKER_PORT": "0",
    }
    env.pop("SESSIONS_KV_PATH", None)
    done = subprocess.run(
        [sys.executable, "-m", "devstack.worker_host"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "BETTER_AUTH_SESSION_STORAGE=secondary needs SESSIONS_KV_PATH" in done.stderr
