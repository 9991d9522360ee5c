"""`wrangler deploy --dry-run` builds the Worker offline with both toolchains we support.

The pinned wrangler (4.86, the last on Node 20) runs on the system Node; the current wrangler
(4.16x, Node >= 22.12) runs on the Node that `worker/wrangler_current` installs from npm. Both must
accept our `wrangler.toml` and bundle the same Python modules.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.worker.conftest import REPO

WORKER = REPO / "worker"
CURRENT = WORKER / "wrangler_current"


@dataclass(frozen=True)
class Toolchain:
    wrangler: Path
    node_bin: Path | None  # a directory put first on PATH; None: the system Node
    version: str


PINNED = Toolchain(WORKER / "node_modules" / ".bin" / "wrangler", None, "4.86.0")
LATEST = Toolchain(
    CURRENT / "node_modules" / ".bin" / "wrangler",
    CURRENT / "node_modules" / "node" / "bin",
    json.loads((CURRENT / "package.json").read_text())["dependencies"]["wrangler"],
)


def _env(toolchain: Toolchain) -> dict[str, str]:
    env = {**os.environ, "WRANGLER_SEND_METRICS": "false", "CI": "1"}
    if toolchain.node_bin is not None:
        env["PATH"] = f"{toolchain.node_bin}{os.pathsep}{env['PATH']}"
    return env


def _node_version(toolchain: Toolchain) -> tuple[int, ...]:
    out = subprocess.run(
        ["node", "--version"], env=_env(toolchain), capture_output=True, text=True, check=True
    ).stdout
    return tuple(int(part) for part in out.strip().lstrip("v").split("."))


@pytest.mark.slow
@pytest.mark.parametrize("toolchain", [PINNED, LATEST], ids=["pinned-wrangler", "current-wrangler"])
def test_wrangler_dry_run_builds_the_python_worker_offline(
    tmp_path: Path, toolchain: Toolchain
) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    assert toolchain.wrangler.exists(), "run `make worker-build` (npm ci in worker/ and its tools)"
    result = subprocess.run(
        [str(toolchain.wrangler), "deploy", "--dry-run", "--outdir", str(tmp_path / "out")],
        cwd=WORKER,
        env=_env(toolchain),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(rf"wrangler {re.escape(toolchain.version)}\b", output), output[:500]
    assert "env.DB (connect)" in output
    assert "D1 Database" in output
    bundled = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.py")}
    assert {"entry.py", "runtime_adapter.py", "connect_worker/app.py"} <= bundled
    assert not any("__pycache__" in p for p in bundled)


@pytest.mark.slow
@pytest.mark.parametrize("toolchain", [PINNED, LATEST], ids=["pinned-wrangler", "current-wrangler"])
def test_the_commented_sessions_kv_binding_is_valid_configuration(
    tmp_path: Path, toolchain: Toolchain
) -> None:
    """wrangler.toml's commented `[[kv_namespaces]]` block, uncommented as its comment says, with
    `BETTER_AUTH_SESSION_STORAGE = "secondary"`: both wranglers accept it and bind SESSIONS_KV."""
    text = (WORKER / "wrangler.toml").read_text()
    block = re.search(r"^# \[\[kv_namespaces\]\]\n# binding = .*\n# id = .*$", text, re.M)
    assert block is not None, "wrangler.toml lost its commented SESSIONS_KV block"
    enabled = text.replace(block.group(0), block.group(0).replace("# ", "")).replace(
        "<the KV namespace id of the auth app's secondaryStorage>", "0" * 32
    )
    enabled = enabled.replace("[vars]\n", '[vars]\nBETTER_AUTH_SESSION_STORAGE = "secondary"\n', 1)
    # wrangler resolves `main` and the build from the config's folder: the copy sits beside it.
    config = WORKER / f".wrangler-kv-{secrets.token_hex(4)}.toml"
    config.write_text(enabled)
    argv = [str(toolchain.wrangler), "deploy", "--dry-run", "--config", str(config)]
    try:
        result = subprocess.run(
            [*argv, "--outdir", str(tmp_path / "out")],
            cwd=WORKER,
            env=_env(toolchain),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        config.unlink()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"env\.SESSIONS_KV \(0{32}\)\s+KV Namespace", output), output[-2000:]
    assert 'env.BETTER_AUTH_SESSION_STORAGE ("secondary")' in output


@pytest.mark.slow
def test_the_current_wrangler_runs_on_the_node_it_needs_and_the_pinned_one_on_the_system_node() -> (
    None
):
    assert _node_version(LATEST) >= (22, 12)
    assert _node_version(PINNED)[0] >= 20


def test_package_json_pins_wrangler_exactly() -> None:
    package = json.loads((WORKER / "package.json").read_text())
    lock = json.loads((WORKER / "package-lock.json").read_text())
    assert package["devDependencies"]["wrangler"] == "4.86.0"
    assert lock["packages"]["node_modules/wrangler"]["version"] == "4.86.0"


def test_the_current_toolchain_pins_wrangler_and_node_exactly() -> None:
    package = json.loads((CURRENT / "package.json").read_text())
    lock = json.loads((CURRENT / "package-lock.json").read_text())
    for name in ("wrangler", "node"):
        pinned = package["dependencies"][name]
        assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), f"{name} must be pinned exactly"
        assert lock["packages"][f"node_modules/{name}"]["version"] == pinned
    assert int(package["dependencies"]["node"].split(".")[0]) >= 22
