"""A platform without Better Auth's `jwt()` plugin (auth_app/configs/no_jwt.mjs: no `jwks`
table), under Pyodide as Cloudflare runs the Worker and under CPython: both hosts told the
description real Better Auth gives of that config, over the database it made. Same answers:
session tokens verified, every JWT the invalid-token refusal, health green without `jwks`."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.pyodide_worker import start_pyodide_worker
from tests.fixtures.platform_auth import PlatformAuth
from tests.pyodide_runtime.conftest import API_KEY, FrozenClock, PyodideHost, worker_settings
from tests.pyodide_runtime.test_differential import CPythonHost

pytestmark = pytest.mark.slow


def _answers(client: httpx.Client, url: str, tokens: dict[str, str], org_id: str) -> list[Any]:
    answers: list[Any] = [client.get(f"{url}/api/internal/health").json()]
    for name, token in tokens.items():
        reply = client.post(
            f"{url}/api/internal/verify-user-context",
            json={"token": token, "organization_id": org_id},
        )
        body = reply.json()
        body.get("error", {}).pop("request_id", None)  # each reply's own
        answers.append((name, reply.status_code, body))
    return answers


def test_without_the_jwt_plugin_both_runtimes_verify_sessions_and_refuse_jwts_alike(
    harness_installed: None, platform_auth: Callable[[str], PlatformAuth], tmp_path: Path
) -> None:
    made = platform_auth("no_jwt")
    base = made.copy_to(tmp_path)
    v = made.values
    real_jwt = platform_auth("default").values["jwt"]  # signed by a Better Auth with jwt()
    tokens = {
        "signed": v["signed_token"],
        "raw": v["raw_token"],
        "jwt": real_jwt,
        "forged_jwt": real_jwt.rsplit(".", 1)[0] + "." + "A" * 86,
        "unknown": "u" * 32,
    }
    settings = {**worker_settings(v["secret"]), "BETTER_AUTH_SCHEMA": made.description}
    now = float(int(datetime.fromisoformat(v["generated_at"]).timestamp()) + 60)
    pyodide_path, cpython_path = tmp_path / "pyodide.sqlite3", tmp_path / "cpython.sqlite3"
    shutil.copyfile(base, pyodide_path)
    shutil.copyfile(base, cpython_path)
    process = start_pyodide_worker(settings, pyodide_path, test_controls=True)
    client = httpx.Client(timeout=60, headers={"X-API-Key": API_KEY})
    pyodide = PyodideHost(process=process, client=client, db_path=pyodide_path)
    cpython = CPythonHost(cpython_path, settings, FrozenClock(now))
    try:
        pyodide.set_clock(now)
        ours = _answers(client, pyodide.url, tokens, v["org_id"])
        theirs = _answers(client, cpython.url, tokens, v["org_id"])
        assert ours == theirs, "\n".join(process.log)
        assert ours[0] == {"ok": True}
        statuses = {name: status for name, status, _ in ours[1:]}
        assert statuses == {
            "signed": 200,
            "raw": 200,
            "jwt": 401,
            "forged_jwt": 401,
            "unknown": 401,
        }
        refusals = [body for name, status, body in ours[1:] if status == 401]
        assert all(body == refusals[0] for body in refusals)
        assert refusals[0]["error"]["code"] == "invalid_token"
    finally:
        cpython.stop()
        client.close()
        process.stop()
