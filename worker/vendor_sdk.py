"""Vendor the `workers` SDK into `python_modules/`, which `wrangler deploy` uploads with `src/`.

At this Worker's compatibility date the Python Workers runtime no longer provides the SDK
(`enable_python_external_sdk`, on from 2026-04-21), so it must travel in the upload, as
`pywrangler sync` would put it there. `pywrangler` needs `uv` and a downloaded CPython; this does
the same job with the standard library: the pinned wheel is fetched once with pip into a
git-ignored cache, checked against its pinned SHA-256 and unpacked (a pure-Python wheel is a zip).

Run by wrangler itself (`[build] command` in wrangler.toml) before every `wrangler deploy`,
`npm run deploy`, `pywrangler deploy` or dry run, and by `make` for the Pyodide harness, which
loads the SDK from this same folder. Idempotent and offline once the wheel is cached.

    python3 vendor_sdk.py [--check]
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = "workers-runtime-sdk"
VERSION = "1.9.5"
WHEEL = "workers_runtime_sdk-1.9.5-py3-none-any.whl"
SHA256 = "f2b912660a3ab60d2a24920106422f9eaf4cd7a794e42b022237ad2444287fef"

HERE = Path(__file__).resolve().parent
TARGET = HERE / "python_modules"
CACHE = Path(os.environ.get("WORKER_WHEEL_CACHE", str(HERE.parent / ".cache" / "wheels")))
# What proves the folder holds exactly this version (pip and pywrangler write the same name).
MARKER = TARGET / "workers_runtime_sdk-1.9.5.dist-info" / "RECORD"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cached_wheel() -> Path:
    wheel = CACHE / WHEEL
    if not wheel.exists() or _sha256(wheel) != SHA256:
        CACHE.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        command += ["--only-binary=:all:", "--dest", str(CACHE), f"{PACKAGE}=={VERSION}"]
        subprocess.run(command, check=True)  # noqa: S603 - fixed arguments
    if _sha256(wheel) != SHA256:
        raise SystemExit(f"{wheel}: SHA-256 does not match the pin in vendor_sdk.py")
    return wheel


def vendor() -> bool:
    """Unpack the pinned wheel into python_modules/ unless it is already there; True if changed."""
    if MARKER.exists():
        return False
    wheel = cached_wheel()
    staging = TARGET.with_name(".python_modules.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith("/") or ".." in Path(name).parts:
                raise SystemExit(f"{wheel}: unsafe path {name!r}")
        archive.extractall(staging)
    shutil.rmtree(TARGET, ignore_errors=True)
    staging.rename(TARGET)
    return True


def main(argv: list[str]) -> int:
    if "--check" in argv:
        print(f"{TARGET}: {'vendored' if MARKER.exists() else 'missing'} {PACKAGE}=={VERSION}")
        return 0 if MARKER.exists() else 1
    changed = vendor()
    print(f"python_modules/: {PACKAGE}=={VERSION} {'vendored' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
