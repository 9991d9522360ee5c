"""`BETTER_AUTH_SESSION_STORAGE=secondary make dev`: the auth app keeps sessions in Better Auth's
secondaryStorage, the Worker reads them from its KV binding (one SQLite file), and the demo story
runs end to end — with the seeded demo token and with a token from a real sign-in."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from devstack.demo import DemoTarget, run_story
from devstack.stack_config import LocalSecrets
from tests.stack.procs import RunningStack

pytestmark = pytest.mark.slow


@pytest.fixture(params=["python", "pyodide"])
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[RunningStack]:
    state_dir = tmp_path_factory.mktemp("kvstack") / "devstack"
    running = RunningStack.start(
        state_dir,
        extra_env={"BETTER_AUTH_SESSION_STORAGE": "secondary", "WORKER_RUNTIME": request.param},
    )
    try:
        yield running
    finally:
        running.kill_tree()


async def test_the_demo_story_runs_with_sessions_in_kv(stack: RunningStack) -> None:
    state = stack.wait_up(timeout=180)
    kv = sqlite3.connect(stack.state_dir / "sessions-kv.sqlite3")
    try:
        raw = state.token.partition(".")[0]
        assert kv.execute("SELECT COUNT(*) FROM kv WHERE key = ?", (raw,)).fetchone() == (1,)
    finally:
        kv.close()

    app = state.frontend_url
    assert app is not None
    async with httpx.AsyncClient(timeout=30) as client:
        signed_in = await client.post(
            f"{app}/api/auth/sign-in/email",
            json={"email": state.user_email, "password": state.demo_password},
            headers={"origin": app},
        )
        assert signed_in.status_code == 200, signed_in.text
        token = signed_in.headers["set-auth-token"]
        status = await client.get(
            f"{state.backend_url}/api/connect/status/{state.organization_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert status.status_code == 200, status.text

    lines: list[str] = []
    result = await run_story(
        DemoTarget(
            backend_url=state.backend_url,
            stripe_fake_url=state.stripe_fake_url,
            token=state.token,
            organization_id=state.organization_id,
            platform_key=LocalSecrets.load_or_create(
                stack.state_dir / "secrets.json"
            ).platform_api_key,
        ),
        emit=lines.append,
    )
    assert (result.status_after_webhook, result.transfer.status) == ("active", "succeeded")
    assert (result.payout_id[:3], result.payout_amount) == ("po_", 9_000)
    assert stack.stop() == 0
