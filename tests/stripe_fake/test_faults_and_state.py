from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import stripe

from devstack.ports import free_port
from stripe_fake.harness import start_fake
from tests.fixtures.stripe import StripeFake, fast_test_config
from tests.stripe_fake.conftest import new_account


async def test_error_500_fault_raises_api_error_for_count_requests(
    stripe_fake: StripeFake,
) -> None:
    stripe_fake.set_faults("error_500", count=1)
    async with stripe_fake.client() as client:
        with pytest.raises(stripe.APIError) as caught:
            await client.v1.balance.retrieve_async()
        assert caught.value.http_status == 500
        balance = await client.v1.balance.retrieve_async()
    assert balance.object == "balance"


async def test_sdk_retries_through_a_500_with_the_same_idempotency_key(
    stripe_fake: StripeFake,
) -> None:
    stripe_fake.set_faults("error_500", count=1)
    async with stripe_fake.client(max_network_retries=2) as client:
        account = await client.v1.accounts.create_async(params={"email": "r@example.com"})
        listed = await client.v1.accounts.list_async()
    assert [a.id for a in listed.data] == [account.id]


async def test_rate_limit_fault_raises_rate_limit_error(stripe_fake: StripeFake) -> None:
    stripe_fake.set_faults("rate_limit", count=1)
    async with stripe_fake.client() as client:
        with pytest.raises(stripe.RateLimitError) as caught:
            await client.v1.balance.retrieve_async()
    assert caught.value.http_status == 429


async def test_down_fault_drops_the_connection(stripe_fake: StripeFake) -> None:
    # aiohttp itself retries an idempotent request once on a dropped connection: two drops.
    stripe_fake.set_faults("down", count=2)
    async with stripe_fake.client() as client:
        with pytest.raises(stripe.APIConnectionError):
            await client.v1.balance.retrieve_async()
        assert (await client.v1.balance.retrieve_async()).object == "balance"


async def test_slow_fault_delays_the_answer(stripe_fake: StripeFake) -> None:
    stripe_fake.set_faults("slow", count=1, delay_seconds=0.3)
    async with stripe_fake.client() as client:
        started = time.monotonic()
        await client.v1.balance.retrieve_async()
        assert time.monotonic() - started >= 0.3


def test_faults_leave_the_control_api_alone(stripe_fake: StripeFake) -> None:
    stripe_fake.set_faults("error_500")
    assert stripe_fake.deliveries() == {"deliveries": []}
    stripe_fake.clear_faults()


async def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "stripe.json"
    config = fast_test_config(state_file=state_file)
    first = start_fake(config)
    try:
        fake = StripeFake(url=first.url)
        async with fake.client() as client:
            account = await new_account(client)
            await client.v1.accounts.create_async(
                params={"email": "x@example.com"}, options={"idempotency_key": "persisted"}
            )
        fake.complete_onboarding(account.id)
    finally:
        first.stop()
    assert account.id in json.loads(state_file.read_text())["accounts"]
    second = start_fake(config)
    try:
        fake = StripeFake(url=second.url)
        async with fake.client() as client:
            again = await client.v1.accounts.retrieve_async(account.id)
            with pytest.raises(stripe.IdempotencyError):
                await client.v1.accounts.create_async(
                    params={"email": "y@example.com"}, options={"idempotency_key": "persisted"}
                )
    finally:
        second.stop()
    assert again.charges_enabled is True


# A hang guard, not a speed target (start-up time belongs in `make bench`): on a loaded 2-core
# machine the import alone has taken over 3 s; a fake that never answers fails well before this.
START_DEADLINE_SECONDS = 30.0


def test_python_m_stripe_fake_serves_with_its_keys_from_the_environment(tmp_path: Path) -> None:
    """`python -m stripe_fake` alone, configured only by environment variables: it comes up,
    accepts a key from STRIPE_FAKE_API_KEYS, refuses one not listed, and stops cleanly."""
    port = free_port()
    env = {"STRIPE_FAKE_PORT": str(port), "STRIPE_FAKE_API_KEYS": "sk_test_a,sk_test_b"}
    log_path = tmp_path / "stripe_fake.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "stripe_fake"],
            env={**env, "PATH": "/usr/bin:/bin"},
            cwd=Path(__file__).resolve().parents[2],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1/balance"
    try:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while True:
            assert process.poll() is None, f"the fake exited: {log_path.read_text()}"
            try:
                response = httpx.get(url, headers={"Authorization": "Bearer sk_test_b"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"no answer: {log_path.read_text()}"
                time.sleep(0.05)
        assert response.status_code == 200, response.text
        assert response.json()["object"] == "balance"
        unlisted = httpx.get(url, headers={"Authorization": "Bearer sk_test_local_fake_key"})
        assert unlisted.status_code == 401, unlisted.text
    finally:
        process.terminate()
        returncode = process.wait(timeout=10)
    # uvicorn finishes its shutdown, then re-raises the SIGTERM it caught.
    assert returncode in (0, -signal.SIGTERM), log_path.read_text()
    assert "Application shutdown complete" in log_path.read_text()
