"""`make dev WORKER_RUNTIME=pyodide`: the whole stack with the Worker in Pyodide; `make demo`."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.demo import DemoTarget, run_story
from devstack.stack_config import LocalSecrets
from tests.stack.procs import Proc, RunningStack, descendants, port_is_free

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path: Path, harness_installed: None) -> Iterator[RunningStack]:
    running = RunningStack.start(tmp_path / "devstack", extra_env={"WORKER_RUNTIME": "pyodide"})
    tree: set[Proc] = set()
    try:
        yield running
    finally:
        tree.update(descendants(running.popen.pid))
        running.kill_tree()
        for proc in tree:
            if proc.alive():
                os.kill(proc.pid, signal.SIGKILL)


def test_the_demo_story_runs_with_the_worker_in_pyodide(stack: RunningStack) -> None:
    state = stack.wait_up(timeout=180)
    tree = set(descendants(stack.popen.pid))
    worker_pid = state.child_pids[0]
    cmdline = Path(f"/proc/{worker_pid}/cmdline").read_bytes().split(b"\0")
    assert any(arg.endswith(b"pyodide_host/server.mjs") for arg in cmdline), cmdline
    assert "(pyodide runtime, D1 below)" in stack.output()

    result = asyncio.run(
        run_story(
            DemoTarget(
                backend_url=state.backend_url,
                stripe_fake_url=state.stripe_fake_url,
                token=state.token,
                organization_id=state.organization_id,
                platform_key=LocalSecrets.load_or_create(
                    stack.state_dir / "secrets.json"
                ).platform_api_key,
            ),
            emit=lambda line: None,
        )
    )
    assert result.status_after_webhook == "active"
    assert result.transfer.status == "succeeded"
    assert result.transfer_replay == result.transfer
    assert result.balance_available == {"usd": 9_000}

    assert stack.stop() == 0
    deadline = time.monotonic() + 5.0
    while any(p.alive() for p in tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p.pid for p in tree if p.alive()] == [], stack.output()
    assert all(port_is_free(port) for port in stack.ports.values())
