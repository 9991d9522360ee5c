"""`INTERNAL_API_KEY=… make dev`: each part gets one form of the internal key, never both (the
Worker and the backend refuse to start with both)."""

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
