"""`make dev`'s wiring of the internal key and the session storage: each part gets one form of
the key, never both (the Worker and the backend refuse to start with both); with sessions in
secondary storage the auth app and the Worker share one KV file."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.parts import part_specs
from devstack.stack_config import StackConfig


@pytest.mark.parametrize("runtime", ["python", "pyodide", "wrangler"])
def test_a_shell_key_reaches_the_worker_as_its_list_and_the_backend_as_its_one_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime: str
) -> None:
    monkeypatch.setenv("INTERNAL_API_KEY", "k" * 40)
    monkeypatch.setenv("INTERNAL_API_KEYS", "v9:" + "z" * 40)
    config = StackConfig.from_env(
        {"DEVSTACK_DIR": str(tmp_path), "INTERNAL_API_KEY": "k" * 40, "WORKER_RUNTIME": runtime}
    )
    worker, _fake, backend, _auth_app = part_specs(config)
    assert "INTERNAL_API_KEY" not in worker.env
    assert "INTERNAL_API_KEYS" not in backend.env
    assert backend.env["INTERNAL_API_KEY"] == "k" * 40
    if runtime != "wrangler":  # wrangler dev reads the keys from its env file
        assert worker.env["INTERNAL_API_KEYS"] == "dev:" + "k" * 40


def test_secondary_session_storage_gives_the_auth_app_and_the_worker_one_kv_file(
    tmp_path: Path,
) -> None:
    config = StackConfig.from_env(
        {"DEVSTACK_DIR": str(tmp_path), "BETTER_AUTH_SESSION_STORAGE": "secondary"}
    )
    worker, _fake, _backend, auth_app = part_specs(config)
    kv = str(tmp_path / "sessions-kv.sqlite3")
    assert worker.env["BETTER_AUTH_SESSION_STORAGE"] == "secondary"
    assert worker.env["SESSIONS_KV_PATH"] == auth_app.env["SESSIONS_KV_PATH"] == kv
    default = StackConfig.from_env({"DEVSTACK_DIR": str(tmp_path)})
    worker, _fake, _backend, auth_app = part_specs(default)
    assert worker.env["BETTER_AUTH_SESSION_STORAGE"] == "database"
    assert "SESSIONS_KV_PATH" not in auth_app.env


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"BETTER_AUTH_SESSION_STORAGE": "kv"}, "must be 'database' or 'secondary'"),
        (
            {"BETTER_AUTH_SESSION_STORAGE": "secondary", "WORKER_RUNTIME": "wrangler"},
            "runs with WORKER_RUNTIME=python or pyodide",
        ),
    ],
)
def test_session_storage_the_stack_cannot_run_is_refused(
    tmp_path: Path, env: dict[str, str], says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        StackConfig.from_env({"DEVSTACK_DIR": str(tmp_path), **env})
