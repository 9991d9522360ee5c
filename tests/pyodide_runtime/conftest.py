"""Fixtures for the Worker under Pyodide: a base D1 file both hosts copy, and the two hosts."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack import seed
from devstack.migrate import apply_migrations
from devstack.pyodide_worker import HOST_DIR, PyodideWorkerProcess, start_pyodide_worker
from tests.worker.conftest import BETTER_AUTH

API_KEY = "k" * 40


class FrozenClock:
    """The CPython host's clock; the Pyodide host's `Date.now()` is set to the same moment."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class PyodideHost:
    process: PyodideWorkerProcess
    client: httpx.Client
    db_path: Path

    @property
    def url(self) -> str:
        return self.process.url

    def set_clock(self, now: float) -> None:
        response = self.client.post(f"{self.url}/__clock", json={"now_ms": round(now * 1000)})
        response.raise_for_status()

    def scheduled(self) -> None:
        self.client.post(
            f"{self.url}/__scheduled", params={"cron": "17 3 * * *"}
        ).raise_for_status()

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = self.client.get(f"{self.url}/__pyodide_host/stats").json()
        return data


@pytest.fixture(scope="session")
def harness_installed() -> None:
    if not (HOST_DIR / "node_modules" / "pyodide").is_dir():
        pytest.fail(
            "worker/pyodide_host is not installed: run `make pyodide-host` (make test does)"
        )


@pytest.fixture(scope="module")
def fixture_values() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((BETTER_AUTH / "fixture.json").read_text())
    return data


@pytest.fixture(scope="module")
def start_time(fixture_values: dict[str, Any]) -> float:
    """The fixture's own moment + 1 minute: its sessions and JWT are live then."""
    return datetime.fromisoformat(fixture_values["generated_at"]).timestamp() + 60


@pytest.fixture(scope="module")
def base_db(
    tmp_path_factory: pytest.TempPathFactory, fixture_values: dict[str, Any], start_time: float
) -> tuple[Path, dict[str, Any]]:
    """Better Auth's real auth.db, migrated, plus a unicode org and an expired session."""
    path = tmp_path_factory.mktemp("base") / "base.sqlite3"
    shutil.copyfile(BETTER_AUTH / "auth.db", path)
    apply_migrations(path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        other_org = seed.create_organization(
            conn, name="Глобекс 🌍 Ünïcode", slug="globex-ü", now=start_time
        )
        carol = seed.create_user(conn, name="Carol ñ", email="carol@example.test", now=start_time)
        seed.add_member(conn, organization_id=other_org, user_id=carol, role="owner")
        expired = seed.create_session(
            conn,
            user_id=carol,
            secret=fixture_values["secret"],
            now=start_time - 10 * 86_400,
            ttl_seconds=86_400,
        )
    finally:
        conn.close()
    values = {
        "org_id": fixture_values["org_id"],
        "other_org_id": other_org,
        "signed": fixture_values["signed_cookie_token"],
        "signed_decoded": fixture_values["signed_cookie_token_decoded"],
        "raw": fixture_values["raw_token"],
        "jwt": fixture_values["jwt"],
        "bob": fixture_values["other_session_cookies"][1]["set_auth_token"],
        "expired": expired.signed_token,
        "secret": fixture_values["secret"],
    }
    return path, values


def worker_settings(secret: str) -> dict[str, str]:
    return {"INTERNAL_API_KEYS": f"v1:{API_KEY}", "BETTER_AUTH_SECRET": secret}


@pytest.fixture(scope="module")
def pyodide_host(
    harness_installed: None,
    base_db: tuple[Path, dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PyodideHost]:
    path = tmp_path_factory.mktemp("pyodide") / "d1.sqlite3"
    shutil.copyfile(base_db[0], path)
    process = start_pyodide_worker(worker_settings(base_db[1]["secret"]), path, test_controls=True)
    client = httpx.Client(timeout=60)
    try:
        yield PyodideHost(process=process, client=client, db_path=path)
    finally:
        client.close()
        process.stop()
