from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.worker.conftest import REPO

WORKER = REPO / "worker"


@pytest.mark.slow
def test_wrangler_dry_run_builds_the_python_worker_offline(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    wrangler = WORKER / "node_modules" / ".bin" / "wrangler"
    assert wrangler.exists(), "run `make` (npm ci in worker/) first"
    env = {**os.environ, "WRANGLER_SEND_METRICS": "false", "CI": "1"}
    result = subprocess.run(
        [str(wrangler), "deploy", "--dry-run", "--outdir", str(tmp_path / "out")],
        cwd=WORKER,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "env.DB (connect)" in output
    assert "D1 Database" in output
    bundled = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.py")}
    assert {"entry.py", "runtime_adapter.py", "connect_worker/app.py"} <= bundled
    assert not any("__pycache__" in p for p in bundled)


def test_package_json_pins_wrangler_exactly() -> None:
    import json

    package = json.loads((WORKER / "package.json").read_text())
    lock = json.loads((WORKER / "package-lock.json").read_text())
    assert package["devDependencies"]["wrangler"] == "4.86.0"
    assert lock["packages"]["node_modules/wrangler"]["version"] == "4.86.0"
