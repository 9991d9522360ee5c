"""Start, pin, wait for and stop the servers under test; each is stopped by its own pid."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from bench.wrk import pin

REPO = Path(__file__).resolve().parent.parent


class Server:
    """One server process, pinned to a core, logging to a file, stopped on exit."""

    def __init__(
        self,
        name: str,
        cmd: Sequence[str],
        *,
        env: Mapping[str, str],
        cpu: int | None,
        log_dir: Path,
        health_url: str,
        cwd: Path = REPO,
    ) -> None:
        self.name = name
        self.health_url = health_url
        self.log_path = log_dir / f"{name}.log"
        self._cmd = pin(list(cmd), cpu)
        self._env = {**os.environ, **env}
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, *, timeout_s: float = 30.0) -> None:
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self._cmd, env=self._env, cwd=self._cwd, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited at start; see {self.log_path}:\n{self.tail()}"
                )
            if _answers(self.health_url):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {self.health_url}; see {self.log_path}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._proc.pid

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback URL we built
            status: int = resp.status
            return 200 <= status < 500
    except urllib.error.HTTPError as err:
        return int(err.code) < 500
    except (urllib.error.URLError, OSError):
        return False


PYTHON = sys.executable
