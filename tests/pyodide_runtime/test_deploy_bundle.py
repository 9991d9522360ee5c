"""What `wrangler deploy` uploads is the Worker plus the vendored SDK, and what the harness runs.

And the pins hold together: the Pyodide the harness loads is the one the compatibility date
selects on Cloudflare, the SDK wheel is the one `pywrangler` would vendor (worker/pyproject.toml).
How each pin was established: docs/pyodide-runtime.md.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.pyodide_runtime.conftest import PyodideHost

REPO = Path(__file__).resolve().parents[2]
WORKER = REPO / "worker"
HOST = WORKER / "pyodide_host"

# From workerd's compatibility-date.capnp and build/python_metadata.bzl (docs/pyodide-runtime.md):
# the enabled flag with the highest ordinal that names a Pyodide release wins.
#   python_workers                              -> 0.26.0a2 (Python 3.12)
#   python_workers_20250116, implied by python_workers from 2025-09-29 -> 0.28.2 (Python 3.13.2)
#   python_workers_20260610, by explicit flag only (no date implies it) -> 314.0.4 (Python 3.14)
# The compatibility date these rules were last checked for; change it and re-check them.
CHECKED_DATE = "2026-11-01"


def expected_pyodide(date: str, flags: list[str]) -> tuple[str, str]:
    if "python_workers_20260610" in flags:
        return "314.0.4", "3.14.2"
    if "python_workers_20250116" in flags or (
        date >= "2025-09-29" and "no_python_workers_20250116" not in flags
    ):
        return "0.28.2", "3.13.2"
    return "0.26.0a2", "3.12.1"


def _wrangler() -> dict[str, object]:
    return tomllib.loads((WORKER / "wrangler.toml").read_text())


def test_the_pyodide_pin_is_the_one_the_compatibility_date_selects() -> None:
    config = _wrangler()
    date, flags = str(config["compatibility_date"]), list(config["compatibility_flags"])  # type: ignore[call-overload]
    assert date == CHECKED_DATE, (
        "compatibility_date changed: re-check which Pyodide it selects (docs/pyodide-runtime.md), "
        "update worker/pyodide_host/package.json and CHECKED_DATE"
    )
    version, _ = expected_pyodide(date, flags)
    package = json.loads((HOST / "package.json").read_text())
    lock = json.loads((HOST / "package-lock.json").read_text())
    assert package["dependencies"]["pyodide"] == version
    assert lock["packages"]["node_modules/pyodide"]["version"] == version


def test_the_harness_loads_that_pyodide(pyodide_host: PyodideHost) -> None:
    config = _wrangler()
    version, python = expected_pyodide(
        str(config["compatibility_date"]),
        list(config["compatibility_flags"]),  # type: ignore[call-overload]
    )
    stats = pyodide_host.stats()
    assert (stats["pyodide_version"], stats["python_version"]) == (version, python)


def test_the_sdk_pin_is_the_same_for_pywrangler_and_the_vendoring_script() -> None:
    pyproject = tomllib.loads((WORKER / "pyproject.toml").read_text())
    script = (WORKER / "vendor_sdk.py").read_text()
    version = re.search(r'^VERSION = "([^"]+)"', script, re.MULTILINE)
    assert version is not None
    assert pyproject["project"]["dependencies"] == [f"workers-runtime-sdk=={version.group(1)}"]


def _dry_run(outdir: Path) -> str:
    env = {**os.environ, "WRANGLER_SEND_METRICS": "false", "CI": "1"}
    wrangler = str(WORKER / "node_modules" / ".bin" / "wrangler")
    result = subprocess.run(
        [wrangler, "deploy", "--dry-run", "--outdir", str(outdir)],
        cwd=WORKER,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def _uploaded(outdir: Path) -> set[str]:
    # wrangler writes a README.md of its own into --outdir; it is not a module.
    return {
        p.relative_to(outdir).as_posix()
        for p in outdir.rglob("*")
        if p.is_file() and p.relative_to(outdir).as_posix() != "README.md"
    }


@pytest.mark.slow
def test_the_upload_is_the_worker_and_the_vendored_sdk_and_nothing_else(tmp_path: Path) -> None:
    output = _dry_run(tmp_path / "out")
    uploaded = _uploaded(tmp_path / "out")
    own = {
        p.relative_to(WORKER / "src").as_posix()
        for p in (WORKER / "src").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    record = WORKER / "python_modules" / "workers_runtime_sdk-1.9.5.dist-info" / "RECORD"
    vendored = {
        "python_modules/" + line.split(",")[0]
        for line in record.read_text().splitlines()
        if line.strip()
    }
    assert {"python_modules/workers/__init__.py", "python_modules/workers/entrypoints.py"} <= (
        vendored
    )
    assert uploaded == own | vendored
    # wrangler's table counts the modules attached besides the main one (entry.py).
    assert f"Total ({len(own | vendored) - 1} modules)" in output
    assert "Vendored Modules" in output


@pytest.mark.slow
def test_the_harness_runs_exactly_what_is_uploaded(tmp_path: Path) -> None:
    _dry_run(tmp_path / "out")
    listed = subprocess.run(
        [
            "node",
            "--input-type=module",
            "-e",
            "import { uploadedFiles } from './runtime.mjs';"
            "console.log(JSON.stringify(uploadedFiles().map((f) => f.name)));",
        ],
        cwd=HOST,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert set(json.loads(listed.stdout)) == _uploaded(tmp_path / "out")
