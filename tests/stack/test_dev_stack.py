"""End to end: `make dev`'s own code path, the demo story over HTTP, then Ctrl-C and nothing left.

The stack runs as `python -m devstack.run` — the command `make dev` runs — on free ports with its
state (D1 file, secrets, the Stripe fake's state) in a temporary directory. Every part is a real
process on loopback: the Worker's core on SQLite, the Stripe fake, the backend.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.demo import DemoTarget, run_story
from devstack.parts import STRIPE_FAKE_API_KEY
from devstack.stack_config import DemoState, LocalSecrets
from tests.stack.procs import Proc, RunningStack, descendants, port_is_free, with_env


@pytest.fixture
def stacks() -> Iterator[list[tuple[RunningStack, set[Proc]]]]:
    """Started stacks are registered here; teardown kills anything a failed test left behind."""
    started: list[tuple[RunningStack, set[Proc]]] = []
    yield started
    for stack, tree in started:
        stack.kill_tree()
        for proc in tree:
            if proc.alive():
                os.kill(proc.pid, signal.SIGKILL)


def _up(
    stacks: list[tuple[RunningStack, set[Proc]]], state_dir: Path
) -> tuple[RunningStack, DemoState, set[Proc]]:
    stack = RunningStack.start(state_dir)
    tree: set[Proc] = set()
    stacks.append((stack, tree))
    state = stack.wait_up()
    tree.update(descendants(stack.popen.pid))
    return stack, state, tree


def _assert_all_gone(stack: RunningStack, tree: set[Proc]) -> None:
    deadline = time.monotonic() + 5.0
    while any(p.alive() for p in tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p.pid for p in tree if p.alive()] == [], stack.output()
    assert with_env("DEVSTACK_DIR", str(stack.state_dir)) == set()
    assert all(port_is_free(port) for port in stack.ports.values()), stack.ports
    assert not (stack.state_dir / "demo.json").exists()


async def test_make_dev_runs_the_demo_story_and_ctrl_c_leaves_nothing(
    stacks: list[tuple[RunningStack, set[Proc]]], tmp_path: Path
) -> None:
    stack, state, tree = _up(stacks, tmp_path / "devstack")

    # The four parts (Worker, Stripe fake, backend, auth app) are children of the supervisor,
    # each in its own process group.
    assert len(state.child_pids) == 4
    assert {p.pid for p in tree} >= set(state.child_pids)
    assert all(os.getpgid(pid) == pid for pid in state.child_pids)
    out = stack.output()
    assert "Authorization: Bearer $TOKEN" in out
    assert state.token in out
    assert state.backend_url == f"http://127.0.0.1:{stack.ports['BACKEND_PORT']}"
    assert state.stripe_fake_url == f"http://127.0.0.1:{stack.ports['STRIPE_FAKE_PORT']}"
    assert state.frontend_url == f"http://localhost:{stack.ports['FRONTEND_PORT']}"
    # The banner starts with the app's URL and the demo user's password, then the rest.
    banner = out[out.index(f"Open {state.frontend_url} and sign in as {state.user_email}") :]
    assert f"with the password {state.demo_password}" in banner
    assert state.backend_url in banner

    # The printed token is Better Auth's signed form and the Worker accepts it.
    raw, dot, signature = state.token.partition(".")
    assert dot
    assert len(raw) == 32
    assert raw.isalnum()
    assert len(signature) == 44
    async with httpx.AsyncClient(base_url=state.backend_url) as client:
        unauth = await client.get(f"/api/connect/status/{state.organization_id}")
        assert unauth.status_code == 401
        fresh = await client.get(
            f"/api/connect/status/{state.organization_id}",
            headers={"Authorization": f"Bearer {state.token}"},
        )
    assert fresh.status_code == 200
    assert fresh.json()["stripe_connect_status"] is None

    lines: list[str] = []
    result = await run_story(
        DemoTarget(
            backend_url=state.backend_url,
            stripe_fake_url=state.stripe_fake_url,
            token=state.token,
            organization_id=state.organization_id,
            platform_key=LocalSecrets.load_or_create(
                tmp_path / "devstack" / "secrets.json"
            ).platform_api_key,
        ),
        emit=lines.append,
    )

    assert result.account_id.startswith("acct_")
    assert result.account_link_url.startswith(state.stripe_fake_url or "")
    assert result.account_link_expires_at > time.time()
    assert result.status_after_onboard == "pending"
    assert result.webhooks_delivered >= 1
    assert result.status_after_webhook == "active"
    assert result.onboarding_step == "complete"
    transfer = result.transfer
    assert (transfer.gross_amount, transfer.fee_amount, transfer.net_amount) == (
        10_000,
        1_000,
        9_000,
    )
    assert transfer.currency == "usd"
    assert transfer.status == "succeeded"
    assert transfer.stripe_transfer_id is not None
    assert transfer.stripe_transfer_id.startswith("tr_")
    assert result.transfer_replay == transfer
    assert result.payment_intent_id.startswith("pi_")
    assert result.balance_available == {"usd": 9_000}
    assert (result.payout_id[:3], result.payout_amount) == ("po_", 9_000)
    steps = [line.split(".")[0] for line in lines if line[:1].isdigit()]
    assert steps == [str(n) for n in range(1, 10)]

    assert stack.stop() == 0
    _assert_all_gone(stack, tree)
    assert "stopping" in stack.output()


async def test_a_restarted_stack_reuses_the_demo_identity_and_its_connect_account(
    stacks: list[tuple[RunningStack, set[Proc]]], tmp_path: Path
) -> None:
    state_dir = tmp_path / "devstack"
    stack, first, tree = _up(stacks, state_dir)
    async with httpx.AsyncClient(base_url=first.backend_url, timeout=30.0) as client:
        onboard = await client.post(
            "/api/connect/onboard",
            json={"organization_id": first.organization_id},
            headers={"Authorization": f"Bearer {first.token}"},
        )
    assert onboard.status_code == 200, onboard.text
    account_id = onboard.json()["account_id"]
    assert stack.stop() == 0
    _assert_all_gone(stack, tree)

    stack, second, tree = _up(stacks, state_dir)
    assert (second.organization_id, second.token) == (first.organization_id, first.token)
    async with httpx.AsyncClient(base_url=second.backend_url, timeout=30.0) as client:
        again = await client.post(
            "/api/connect/onboard",
            json={"organization_id": second.organization_id},
            headers={"Authorization": f"Bearer {second.token}"},
        )
    assert again.status_code == 200, again.text
    assert again.json()["account_id"] == account_id
    assert stack.stop() == 0
    _assert_all_gone(stack, tree)


def test_when_a_part_dies_the_stack_stops_the_rest_and_fails(
    stacks: list[tuple[RunningStack, set[Proc]]], tmp_path: Path
) -> None:
    stack, state, tree = _up(stacks, tmp_path / "devstack")
    worker_pid = state.child_pids[0]
    os.kill(worker_pid, signal.SIGKILL)

    code = stack.popen.wait(timeout=30)

    assert code == 1
    assert "worker exited with status -9; stopping the stack" in stack.output()
    _assert_all_gone(stack, tree)


def test_a_port_in_use_fails_fast_and_leaves_nothing(
    stacks: list[tuple[RunningStack, set[Proc]]], tmp_path: Path
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = RunningStack.start(tmp_path / "devstack", extra_env={"BACKEND_PORT": str(port)})
        stacks.append((stack, set()))
        code = stack.popen.wait(timeout=60)
        assert code == 1, stack.output()
        assert "backend exited with status" in stack.output()
    assert with_env("DEVSTACK_DIR", str(stack.state_dir)) == set()


async def test_make_dev_in_the_custom_profile_runs_the_demo_story(
    stacks: list[tuple[RunningStack, set[Proc]]], tmp_path: Path
) -> None:
    """`make dev CONNECT_ACCOUNT_PROFILE=custom` + `make demo`: the same story with accounts that
    have no Stripe dashboard."""
    stack = RunningStack.start(
        tmp_path / "devstack", extra_env={"CONNECT_ACCOUNT_PROFILE": "custom"}
    )
    tree: set[Proc] = set()
    stacks.append((stack, tree))
    state = stack.wait_up()
    tree.update(descendants(stack.popen.pid))
    assert "(custom accounts)" in stack.output()
    secrets = LocalSecrets.load_or_create(tmp_path / "devstack" / "secrets.json")
    target = DemoTarget(
        backend_url=state.backend_url,
        stripe_fake_url=state.stripe_fake_url,
        token=state.token,
        organization_id=state.organization_id,
        platform_key=secrets.platform_api_key,
    )
    result = await run_story(target, emit=lambda line: None)
    assert result.status_after_webhook == "active"
    assert (result.payout_id[:3], result.payout_amount) == ("po_", 9_000)
    async with httpx.AsyncClient(base_url=state.stripe_fake_url or "") as fake:
        account = (
            await fake.get(
                f"/v1/accounts/{result.account_id}",
                headers={"Authorization": f"Bearer {STRIPE_FAKE_API_KEY}"},
            )
        ).json()
    assert account["controller"]["stripe_dashboard"]["type"] == "none"
    async with httpx.AsyncClient(base_url=state.backend_url) as client:
        status = await client.get(
            f"/api/connect/status/{state.organization_id}",
            headers={"Authorization": f"Bearer {state.token}"},
        )
    assert status.json()["stripe_connect_account_profile"] == "custom"
    assert stack.stop() == 0
    _assert_all_gone(stack, tree)
