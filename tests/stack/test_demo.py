"""`make demo` finds the running stack, and says which step failed when one does."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.demo import DemoError, DemoTarget, run_story
from devstack.ports import free_ports
from devstack.stack_config import DemoState, write_demo_state


def _state(tmp_path: Path) -> None:
    write_demo_state(
        tmp_path / "demo.json",
        DemoState(
            pid=1,
            worker_url="http://127.0.0.1:1",
            backend_url="http://127.0.0.1:2",
            stripe_fake_url="http://127.0.0.1:3",
            token="tok.sig",
            organization_id="org_1",
            user_id="u",
            user_email="demo@example.com",
            child_pids=(4, 5, 6),
        ),
    )


def test_the_target_comes_from_the_file_make_dev_writes(tmp_path: Path) -> None:
    _state(tmp_path)
    target = DemoTarget.from_env({"DEVSTACK_DIR": str(tmp_path)})
    assert target == DemoTarget(
        backend_url="http://127.0.0.1:2",
        stripe_fake_url="http://127.0.0.1:3",
        token="tok.sig",
        organization_id="org_1",
    )


def test_environment_overrides_the_file_and_empty_fake_url_means_real_stripe(
    tmp_path: Path,
) -> None:
    _state(tmp_path)
    target = DemoTarget.from_env(
        {
            "DEVSTACK_DIR": str(tmp_path),
            "BACKEND_URL": "http://127.0.0.1:9/",
            "STRIPE_FAKE_URL": "",
            "DEMO_TOKEN": "other",
            "DEMO_ORG_ID": "org_2",
        }
    )
    assert target == DemoTarget(
        backend_url="http://127.0.0.1:9",
        stripe_fake_url=None,
        token="other",
        organization_id="org_2",
    )


def test_without_a_running_stack_it_says_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="start `make dev` first"):
        DemoTarget.from_env({"DEVSTACK_DIR": str(tmp_path)})


async def test_a_failing_step_is_named(tmp_path: Path) -> None:
    (closed,) = free_ports(1)
    target = DemoTarget(
        backend_url=f"http://127.0.0.1:{closed}",
        stripe_fake_url=None,
        token="t",
        organization_id="org_1",
    )
    with pytest.raises(
        DemoError, match=r"^onboard: POST /api/connect/onboard failed: ConnectError"
    ):
        await run_story(target, emit=lambda line: None)
