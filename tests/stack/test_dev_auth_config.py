"""`make dev AUTH_CONFIG=auth_app/configs/plural_snake.mjs`: the local stack over a platform's
own Better Auth config — D1 made by Better Auth's migrator, the demo identity written by the
library, our migrations rendered for the description; the Worker and the auth app started as
`make dev` starts them answer for the demo user."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import httpx

from devstack.parts import part_specs, prepare_database
from devstack.processes import ProcessSpec
from devstack.stack_config import StackConfig
from tests.fixtures.platform_auth import AUTH_APP


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(spec: ProcessSpec) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        list(spec.argv), env=dict(spec.env), cwd=spec.cwd, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + spec.ready_timeout
    while not spec.ready():
        assert process.poll() is None, f"{spec.name} exited"
        assert time.monotonic() < deadline, f"{spec.name} not ready"
        time.sleep(0.2)
    return process


def test_make_dev_runs_over_a_renamed_better_auth_config(tmp_path: Path) -> None:
    ports = {name: str(_free_port()) for name in ("WORKER_PORT", "BACKEND_PORT", "FRONTEND_PORT")}
    config = StackConfig.from_env(
        {
            "DEVSTACK_DIR": str(tmp_path),
            "AUTH_CONFIG": str(AUTH_APP / "configs" / "plural_snake.mjs"),
            **ports,
        }
    )
    said: list[str] = []
    identity = prepare_database(config, say=said.append)
    again = prepare_database(config, say=said.append)
    assert identity.created
    assert not again.created
    assert again.organization_id == identity.organization_id
    with closing(sqlite3.connect(config.d1_path)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        connect = {r[1] for r in conn.execute("PRAGMA table_info(organizations)")}
    assert {"users", "sessions", "organizations", "members", "jwt_keys"} <= tables
    assert not {"user", "session", "organization", "member", "jwks"} & tables
    assert "stripe_connect_account_id" in connect

    specs = {spec.name: spec for spec in part_specs(config)}
    worker = _start(specs["worker"])
    auth_app = _start(specs["auth-app"])
    try:
        verified = httpx.post(
            f"{config.worker_url}/api/internal/verify-user-context",
            json={"token": again.token, "organization_id": again.organization_id},
            headers={"X-API-Key": config.internal_api_key},
        )
        assert verified.status_code == 200, verified.text
        assert verified.json()["organization"]["slug"] == "demo-shop"
        assert verified.json()["role"] == "owner"
        # The auth app signs the demo user in under the same config.
        signed_in = httpx.post(
            f"{config.frontend_url}/api/auth/sign-in/email",
            json={"email": "demo@example.com", "password": config.demo_password},
            headers={"origin": config.frontend_url},
        )
        assert signed_in.status_code == 200, signed_in.text
        token = signed_in.headers["set-auth-token"]
        fresh = httpx.post(
            f"{config.worker_url}/api/internal/verify-user-context",
            json={"token": token},
            headers={"X-API-Key": config.internal_api_key},
        )
        assert fresh.status_code == 200, fresh.text
        assert fresh.json()["user"]["id"] == identity.user_id
    finally:
        for process in (auth_app, worker):
            process.terminate()
            process.wait(10)
