"""Core-level fixtures: the real Better Auth fixture, migrated, behind the Worker core."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from connect_worker.app import handle
from connect_worker.config import WorkerConfig, load_config
from connect_worker.deps import Deps
from connect_worker.http import Request

from devstack.ed25519 import CryptographyEd25519Verifier
from devstack.migrate import apply_migrations
from devstack.sqlite_d1 import SqliteD1
from tests.fixtures.worker import ShiftableClock

REPO = Path(__file__).resolve().parents[2]
# A copy of `../shared/fixtures/better-auth/` (real Better Auth 1.7.25 output) lives in the repo, so
# a bare clone tests against it; `test_better_auth_fixture_copy.py` keeps it equal to the original.
BETTER_AUTH = Path(
    os.environ.get("BETTER_AUTH_FIXTURE_DIR", str(REPO / "tests" / "fixtures" / "better_auth"))
)
API_KEY = "k" * 40
OLD_API_KEY = "o" * 40


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def without_request_id(body: Any) -> Any:
    """An error body with its `request_id` checked to be the caller's trace id, then taken out
    (the tests compare the rest as written in docs/internal-api.md)."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = dict(body["error"])
        assert error.pop("request_id") == TRACE_ID, body
        return {**body, "error": error}
    return body


@pytest.fixture(scope="session")
def ba_fixture() -> dict[str, Any]:
    path = BETTER_AUTH / "fixture.json"
    if not path.exists():
        pytest.fail(f"Better Auth fixture missing at {path} (set BETTER_AUTH_FIXTURE_DIR)")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def fixture_time(ba_fixture: dict[str, Any]) -> float:
    """The fixture's own moment + 1 minute: its sessions and JWT are live then."""
    return datetime.fromisoformat(ba_fixture["generated_at"]).timestamp() + 60


@dataclass
class Core:
    """The core (`connect_worker.app.handle`) over SQLite, called as the Worker adapter calls it."""

    deps: Deps
    db: SqliteD1
    clock: ShiftableClock
    db_path: Path

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = API_KEY,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, Any]]:
        headers = {"x-api-key": key} if key is not None else {}
        headers["traceparent"] = TRACEPARENT  # as the backend sends on every call
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        response = await handle(Request(method, path, headers, data), deps=self.deps)
        return response.status, without_request_id(json.loads(response.body()))

    async def post(self, route: str, body: Any) -> tuple[int, dict[str, Any]]:
        return await self.call("POST", f"/api/internal/{route}", body)


def make_core(db_path: Path, clock: ShiftableClock, **env: str) -> Core:
    settings = {
        "INTERNAL_API_KEYS": f"v2:{API_KEY},v1:{OLD_API_KEY}",
        "BETTER_AUTH_SECRET": "a-different-secret-for-fresh-databases-0123",
        **env,
    }
    config: WorkerConfig = load_config(settings)
    db = SqliteD1(db_path)
    deps = Deps(config=config, db=db, verifier=CryptographyEd25519Verifier(), now=clock)
    return Core(deps=deps, db=db, clock=clock, db_path=db_path)


@pytest.fixture
def real_db_path(tmp_path: Path) -> Path:
    """The real Better Auth `auth.db`, copied, with our migrations applied on top of it."""
    path = tmp_path / "auth.db"
    shutil.copyfile(BETTER_AUTH / "auth.db", path)
    apply_migrations(path)
    return path


@pytest.fixture
async def real_core(
    real_db_path: Path, ba_fixture: dict[str, Any], ba_secret: str
) -> AsyncIterator[Core]:
    core = make_core(
        real_db_path, ShiftableClock(fixture_time(ba_fixture)), BETTER_AUTH_SECRET=ba_secret
    )
    # As a long-running Worker is: past its first request, which checked the Better Auth schema
    # (so round-trip counts are those of the request alone).
    status, _ = await core.call("GET", "/api/internal/health")
    assert status == 200
    yield core
    core.db.close()


@pytest.fixture
def ba_secret(ba_fixture: dict[str, Any]) -> str:
    secret: str = ba_fixture["secret"]
    return secret


@pytest.fixture
def fresh_core(tmp_path: Path) -> Iterator[Core]:
    path = tmp_path / "fresh.sqlite3"
    apply_migrations(path)
    core = make_core(path, ShiftableClock())
    yield core
    core.db.close()
