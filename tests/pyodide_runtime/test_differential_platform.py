"""The whole differential script over a platform's own Better Auth database: plural tables,
snake_case columns, an `organizations` model (auth_app/configs/plural_snake.mjs); and serial
(integer) ids (configs/serial.mjs), which reach Pyodide from D1 as JS numbers. Real Better
Auth made it (its migrator, its writes: users, organizations, members, sessions — one expired —
and the JWT key); our migrations rendered for its description are applied on top, and both hosts
are told the description. Same answers, same rows, as with Better Auth's defaults."""

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
from tests.pyodide_runtime.conftest import FrozenClock, PyodideHost, worker_settings
from tests.pyodide_runtime.script import Cron, sequence
from tests.pyodide_runtime.test_differential import CPythonHost, _answer, _dump, _send

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["plural_snake", "serial"])
def platform(
    request: pytest.FixtureRequest,
    platform_auth: Callable[[str], PlatformAuth],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[PlatformAuth, Path, dict[str, Any], dict[str, str]]:
    made = platform_auth(request.param)
    base = made.copy_to(tmp_path_factory.mktemp("platform-base"))
    v = made.values
    values = {
        "org_id": v["org_id"],
        "other_org_id": v["other_org_id"],
        "signed": v["signed_token"].replace("+", "%2B").replace("/", "%2F").replace("=", "%3D"),
        "signed_decoded": v["signed_token"],
        "raw": v["raw_token"],
        "jwt": v["jwt"],
        "bob": v["bob_signed_token"],
        "expired": v["expired_signed_token"],
    }
    settings = {**worker_settings(v["secret"]), "BETTER_AUTH_SCHEMA": made.description}
    return made, base, values, settings


def test_every_route_answers_the_same_over_a_renamed_better_auth_schema(
    harness_installed: None,
    platform: tuple[PlatformAuth, Path, dict[str, Any], dict[str, str]],
    tmp_path: Path,
) -> None:
    made, base, values, settings = platform
    # A whole second, as the main differential uses: a clock with a fraction of a millisecond
    # puts a lease's expiry (in ms) 1 ms apart between Date.now() and CPython's float clock.
    now = float(int(datetime.fromisoformat(made.values["generated_at"]).timestamp()) + 60)
    pyodide_path, cpython_path = tmp_path / "pyodide.sqlite3", tmp_path / "cpython.sqlite3"
    shutil.copyfile(base, pyodide_path)
    shutil.copyfile(base, cpython_path)
    process = start_pyodide_worker(settings, pyodide_path, test_controls=True)
    client = httpx.Client(timeout=60)
    pyodide = PyodideHost(process=process, client=client, db_path=pyodide_path)
    cpython = CPythonHost(cpython_path, settings, FrozenClock(now))
    try:
        pyodide.set_clock(now)
        differences = _run(pyodide, cpython, values, now)
        assert not differences, "\n".join([*differences, "Pyodide host log:", *process.log])
        assert _dump(pyodide_path) == _dump(cpython_path)
    finally:
        cpython.stop()
        client.close()
        process.stop()


def _run(
    pyodide: PyodideHost, cpython: CPythonHost, values: dict[str, Any], now: float
) -> list[str]:
    refs: dict[str, dict[str, Any]] = {"pyodide": {}, "cpython": {}}
    differences: list[str] = []
    answered = {"verify": 0}
    with httpx.Client(timeout=60) as client:
        for step in sequence(values):
            if step.advance:
                now += step.advance
                pyodide.set_clock(now)
                cpython.clock.now = now
            if isinstance(step, Cron):
                pyodide.scheduled()
                cpython.scheduled()
                continue
            ours = _answer(_send(client, pyodide.url, step, refs["pyodide"]), step, refs["pyodide"])
            theirs = _answer(
                _send(client, cpython.url, step, refs["cpython"]), step, refs["cpython"]
            )
            if ours != theirs or ours[0] >= 500:
                differences.append(f"{step.name}:\n  pyodide {ours}\n  cpython {theirs}")
            if step.path.endswith("verify-user-context") and ours[0] == 200:
                answered["verify"] += 1
    # The script's real tokens were answered (not merely refused alike by both hosts).
    if answered["verify"] < 5:
        differences.append(f"only {answered['verify']} tokens verified")
    return differences
