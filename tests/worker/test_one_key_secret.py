"""`INTERNAL_API_KEY` (the seed's one-key secret) beside `INTERNAL_API_KEYS`: either, never both."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from connect_worker.config import ConfigError, load_config

from devstack.migrate import apply_migrations
from tests.fixtures.worker import ShiftableClock
from tests.worker.conftest import API_KEY, OLD_API_KEY, REPO, make_core

SECRET = "s" * 32
ONE = "n" * 40


def test_the_one_key_secret_alone_is_the_workers_key() -> None:
    config = load_config({"INTERNAL_API_KEY": ONE, "BETTER_AUTH_SECRET": SECRET})
    assert [(k.version, k.key) for k in config.api_keys] == [("k1", ONE)]


def test_a_blank_list_beside_the_one_key_secret_counts_as_unset() -> None:
    # `[vars] INTERNAL_API_KEYS = ""` left in wrangler.toml next to the secret.
    config = load_config(
        {"INTERNAL_API_KEYS": " ", "INTERNAL_API_KEY": f"v3:{ONE}", "BETTER_AUTH_SECRET": SECRET}
    )
    assert [k.version for k in config.api_keys] == ["v3"]


def test_both_forms_set_refuse_to_start_naming_both_and_neither_key() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config(
            {
                "INTERNAL_API_KEYS": f"v2:{API_KEY},v1:{OLD_API_KEY}",
                "INTERNAL_API_KEY": ONE,
                "BETTER_AUTH_SECRET": SECRET,
            }
        )
    message = str(excinfo.value)
    assert "INTERNAL_API_KEY and INTERNAL_API_KEYS are both set" in message
    assert API_KEY not in message
    assert OLD_API_KEY not in message
    assert ONE not in message


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("short-key", "INTERNAL_API_KEY key 'k1' is shorter than 32 characters"),
        (f"v2:{API_KEY},v1:{OLD_API_KEY}", "INTERNAL_API_KEY holds one key"),
    ],
)
def test_a_bad_one_key_secret_is_refused_by_its_own_name(value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as excinfo:
        load_config({"INTERNAL_API_KEY": value, "BETTER_AUTH_SECRET": SECRET})
    assert API_KEY not in str(excinfo.value)


def test_neither_form_set_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"INTERNAL_API_KEYS \(or INTERNAL_API_KEY\) is not set"):
        load_config({"BETTER_AUTH_SECRET": SECRET})


async def test_the_core_accepts_the_one_key_and_no_other(tmp_path: Path) -> None:
    path = tmp_path / "d1.sqlite3"
    apply_migrations(path)
    core = make_core(path, ShiftableClock(), INTERNAL_API_KEYS="", INTERNAL_API_KEY=ONE)
    try:
        assert (await core.call("GET", "/api/internal/health", key=ONE))[0] == 200
        status, body = await core.call("GET", "/api/internal/health", key=API_KEY)
        assert (status, body["error"]["code"]) == (401, "unauthorized")
    finally:
        core.db.close()


def test_the_worker_host_will_not_start_with_both(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "INTERNAL_API_KEYS": f"v1:{API_KEY}",
        "INTERNAL_API_KEY": ONE,
        "BETTER_AUTH_SECRET": SECRET,
        "D1_DATABASE_PATH": str(tmp_path / "d1.sqlite3"),
        "WORKER_PORT": "0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "devstack.worker_host"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "INTERNAL_API_KEY and INTERNAL_API_KEYS are both set" in result.stderr
    assert API_KEY not in result.stderr + result.stdout
    assert ONE not in result.stderr + result.stdout
