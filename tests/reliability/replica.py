"""A backend replica as a real OS process (`python -m backend`), so a test can SIGKILL it.

The in-thread backends of `tests/fixtures/backend.py` cannot die mid-request the way a container
does; this one can. Its stderr/stdout go to a file the test can read (and grep for secrets).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from devstack.ports import free_port

REPO = Path(__file__).resolve().parents[2]

__all__ = ["BackendProcess"]


class BackendProcess:
    def __init__(
        self, env: Mapping[str, str], *, log_path: Path, max_open_files: int | None = None
    ) -> None:
        """`max_open_files`: the process's descriptor limit (RLIMIT_NOFILE), to run out of."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.webhook_url = f"{self.url}/api/connect/webhook"
        self.log_path = log_path
        self._env = {
            **os.environ,
            **env,
            "BACKEND_HOST": "127.0.0.1",
            "BACKEND_PORT": str(self.port),
            "PYTHONUNBUFFERED": "1",
        }
        self._proc: subprocess.Popen[bytes] | None = None
        self._max_open_files = max_open_files

    def _limit_descriptors(self) -> None:  # in the child, before exec
        if self._max_open_files is not None:
            limit = self._max_open_files
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self, *, timeout: float = 20.0) -> BackendProcess:
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "backend"],
                env=self._env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self._limit_descriptors if self._max_open_files else None,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"backend exited at start:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"backend did not start:\n{self.log()}")

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no finally blocks, connections cut — a crashed container."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(10)

    def stop(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""
