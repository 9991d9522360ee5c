"""Live: the real auth app (better-auth in Node) with `secondaryStorage` on the SQLite file that
stands in for SESSIONS_KV, and the Worker host reading that file — a user signs up, creates an
organization, signs out, over real HTTP on both sides."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from connect_worker.config import load_config

from devstack.kv_seed import mirror_session
from devstack.migrate import apply_migrations
from devstack.ports import free_port
from devstack.processes import ProcessSpec, Supervisor, http_probe
from devstack.seed_demo import seed_demo
from devstack.worker_host import HostedWorker, serve_in_thread
from tests.worker.conftest import REPO

pytestmark = pytest.mark.slow

KEY = "k" * 40
SECRET = "live-kv-secret-0123456789-abcdefghijkl"


@dataclass
class Live:
    auth_url: str
    worker: HostedWorker
    d1_path: Path
    kv_path: Path

    def auth(self, path: str, body: Any = None, token: str | None = None) -> httpx.Response:
        headers = {"origin": self.auth_url}
        if token:
            headers["authorization"] = f"Bearer {token}"
        return httpx.post(f"{self.auth_url}/api/auth{path}", json=body or {}, headers=headers)

    def verify(self, token: str, organization_id: str | None = None) -> httpx.Response:
        return httpx.post(
            f"{self.worker.url}/api/internal/verify-user-context",
            json={"token": token, "organization_id": organization_id},
            headers={"x-api-key": KEY},
        )


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    if shutil.which("node") is None or not (REPO / "auth_app" / "node_modules").is_dir():
        pytest.fail("the auth app is not installed: `make` (npm ci in auth_app/) first")
    d1_path, kv_path = tmp_path / "d1.sqlite3", tmp_path / "kv.sqlite3"
    apply_migrations(d1_path)
    port = free_port()
    auth_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "D1_DATABASE_PATH": str(d1_path),
        "SESSIONS_KV_PATH": str(kv_path),
        "BETTER_AUTH_SECRET": SECRET,
        "BACKEND_URL": "http://127.0.0.1:9",
        "FRONTEND_PORT": str(port),
        "BETTER_AUTH_URL": auth_url,
    }
    settings = {
        "INTERNAL_API_KEYS": f"v1:{KEY}",
        "BETTER_AUTH_SECRET": SECRET,
        "BETTER_AUTH_SESSION_STORAGE": "secondary",
    }
    with Supervisor(out=io.StringIO()) as supervisor:
        supervisor.start_ready(
            ProcessSpec(
                name="auth-app",
                argv=["node", str(REPO / "auth_app" / "server.mjs")],
                env=env,
                cwd=REPO / "auth_app",
                ready=http_probe(f"{auth_url}/healthz"),
            )
        )
        worker = serve_in_thread(load_config(settings), d1_path, kv_path=kv_path)
        try:
            yield Live(auth_url, worker, d1_path, kv_path)
        finally:
            worker.stop()
            worker.db.close()


def test_a_session_the_real_library_puts_in_kv_is_the_workers_and_ends_with_it(live: Live) -> None:
    signed_up = live.auth(
        "/sign-up/email",
        {"name": "Kay Vee", "email": "kay@example.test", "password": "correct-horse-battery"},
    )
    assert signed_up.status_code == 200, signed_up.text
    signed = signed_up.headers["set-auth-token"]
    user_id = signed_up.json()["user"]["id"]

    conn = sqlite3.connect(live.d1_path)
    try:  # nothing in D1's session table: the library keeps sessions in secondary storage
        assert conn.execute('SELECT COUNT(*) FROM "session"').fetchone() == (0,)
    finally:
        conn.close()

    verified = live.verify(signed)
    assert verified.status_code == 200, verified.text
    assert (verified.json()["user"]["id"], verified.json()["memberships"]) == (user_id, [])

    org = live.auth("/organization/create", {"name": "Kv Org", "slug": "kv-org"}, signed)
    assert org.status_code == 200, org.text
    org_id = org.json()["id"]
    answer = live.verify(signed, org_id).json()
    assert (answer["role"], answer["active_organization_id"]) == ("owner", org_id)
    assert answer["organization"]["slug"] == "kv-org"

    assert live.auth("/sign-out", token=signed).status_code == 200
    gone = live.verify(signed)
    assert (gone.status_code, gone.json()["error"]["code"]) == (401, "invalid_token")


def test_the_demo_session_make_dev_mirrors_into_kv_is_one_the_library_itself_accepts(
    live: Live,
) -> None:
    identity = seed_demo(live.d1_path, secret=SECRET)
    mirror_session(live.d1_path, live.kv_path, session_id=identity.session_id)
    mine = httpx.get(
        f"{live.auth_url}/api/auth/get-session",
        headers={"authorization": f"Bearer {identity.token}", "origin": live.auth_url},
    )
    assert mine.status_code == 200, mine.text
    assert mine.json() is not None, "the library did not read the mirrored session"
    assert mine.json()["user"]["id"] == identity.user_id
    assert mine.json()["session"]["activeOrganizationId"] == identity.organization_id
    answer = live.verify(identity.token, identity.organization_id)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["role"], answer.json()["session"]["id"]) == ("owner", identity.session_id)
    # Signed out through the library: the mirrored session is gone for the Worker too.
    assert live.auth("/sign-out", token=identity.token).status_code == 200
    assert live.verify(identity.token).status_code == 401
