"""Host the Worker under Pyodide in Node (`worker/pyodide_host/`), on a SQLite file as D1.

    python -m devstack.pyodide_worker   (make dev WORKER_RUNTIME=pyodide runs this)

The same environment as `devstack.worker_host` (`WORKER_PORT`, `WORKER_HOST`, `D1_DATABASE_PATH`,
the Worker's settings). Missing migrations are applied first, then the process becomes
`node worker/pyodide_host/server.mjs`: the real entry module and the vendored `workers` SDK in
npm `pyodide`, so the local stack can run what Cloudflare runs (slower to start: ~2–7 s).

`start_pyodide_worker` runs it as a child process for tests and benchmarks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from connect_worker.config import SETTING_NAMES

from devstack.better_auth_schema import apply_for, schema_of
from devstack.migrate import DEFAULT_DB_PATH

__all__ = ["HOST_DIR", "PyodideWorkerProcess", "main", "server_argv", "start_pyodide_worker"]

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST_DIR = REPO_ROOT / "worker" / "pyodide_host"
SERVER = HOST_DIR / "server.mjs"
_READY = re.compile(r"pyodide host: Worker on (http://\S+)")


def server_argv(*, test_controls: bool = False) -> list[str]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node (20+) is needed for the Pyodide Worker host")
    if not (HOST_DIR / "node_modules" / "pyodide").is_dir():
        raise RuntimeError("worker/pyodide_host/node_modules is missing: run `make pyodide-host`")
    flags = ["--test-scheduled", "--test-clock"] if test_controls else []
    return [node, str(SERVER), *flags]


def server_env(
    settings: Mapping[str, str],
    db_path: Path,
    host: str,
    port: int,
    kv_path: Path | None = None,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    env.update(settings)
    if kv_path is not None:
        env["SESSIONS_KV_PATH"] = str(kv_path)
    env.update(
        {
            "D1_DATABASE_PATH": str(db_path),
            "WORKER_HOST": host,
            "WORKER_PORT": str(port),
            "WORKER_SETTING_NAMES": ",".join(SETTING_NAMES),
        }
    )
    return env


@dataclass
class PyodideWorkerProcess:
    """A running Pyodide host (child process); `stop()` ends it. `log` holds its output lines."""

    url: str
    popen: subprocess.Popen[str]
    pump: threading.Thread
    log: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)
        self.pump.join(timeout)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def start_pyodide_worker(
    settings: Mapping[str, str],
    db_path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    test_controls: bool = False,
    timeout: float = 120.0,
    kv_path: str | Path | None = None,
) -> PyodideWorkerProcess:
    """Migrate `db_path`, start the host on a free (or given) port and wait until it listens.
    `kv_path`: the SQLite file behind the SESSIONS_KV binding stand-in (none: no binding)."""
    apply_for(db_path, schema_of(settings))
    popen = subprocess.Popen(
        server_argv(test_controls=test_controls),
        env=server_env(
            settings, Path(db_path), host, port, None if kv_path is None else Path(kv_path)
        ),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    log: list[str] = []
    ready = threading.Event()
    found: list[str] = []

    def pump() -> None:
        assert popen.stdout is not None
        for line in popen.stdout:
            log.append(line.rstrip("\n"))
            match = _READY.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    thread = threading.Thread(target=pump, name="pyodide-host-log", daemon=True)
    thread.start()
    if not ready.wait(timeout) or not found:
        popen.kill()
        popen.wait()
        thread.join(timeout)
        if popen.stdout is not None:
            popen.stdout.close()
        tail = "\n".join(log[-20:])
        raise RuntimeError(f"the Pyodide Worker host did not start:\n{tail}")
    return PyodideWorkerProcess(url=found[0], popen=popen, pump=thread, log=log)


def main(argv: Sequence[str] | None = None) -> int:
    db_path = Path(os.environ.get("D1_DATABASE_PATH", str(DEFAULT_DB_PATH)))
    settings = {name: os.environ[name] for name in SETTING_NAMES if name in os.environ}
    applied = apply_for(db_path, schema_of(settings))
    if applied:
        print(f"applied migrations to {db_path}: {', '.join(applied)}", flush=True)
    env = server_env(
        settings,
        db_path,
        os.environ.get("WORKER_HOST", "127.0.0.1"),
        int(os.environ.get("WORKER_PORT", "8787")),
    )
    try:
        command = server_argv(test_controls="--test-scheduled" in (argv or sys.argv[1:]))
    except RuntimeError as exc:
        print(f"pyodide worker: {exc}", file=sys.stderr)
        return 2
    os.execve(command[0], command, env)  # noqa: S606 - becomes the node host (never returns)


if __name__ == "__main__":
    raise SystemExit(main())
