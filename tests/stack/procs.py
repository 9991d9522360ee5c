"""Process-tree and port helpers for the stack tests (Linux /proc: CI and this machine)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devstack.ports import free_ports
from devstack.stack_config import REPO_ROOT, DemoState, read_demo_state


@dataclass(frozen=True)
class Proc:
    """A process identified by pid *and* start time, so a reused pid is not mistaken for it."""

    pid: int
    start_ticks: int

    def alive(self) -> bool:
        ticks = _start_ticks(self.pid)
        if ticks is None or ticks != self.start_ticks:
            return False
        return _state(self.pid) != "Z"


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may contain spaces: split after the last ")".
    return raw[raw.rindex(")") + 2 :].split()


def _start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def _state(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def descendants(root: int) -> set[Proc]:
    """Every live process whose parent chain reaches `root` (not including `root`)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields:
                parents[int(entry.name)] = int(fields[1])
    found: set[Proc] = set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent:
                ticks = _start_ticks(pid)
                if ticks is not None:
                    found.add(Proc(pid, ticks))
                    frontier.append(pid)
    return found


def with_env(name: str, value: str) -> set[Proc]:
    """Live processes whose environment holds `name=value` (children inherit it, orphans too)."""
    needle = f"{name}={value}".encode()
    found: set[Proc] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        ticks = _start_ticks(int(entry.name))
        if needle in environ and ticks is not None:
            proc = Proc(int(entry.name), ticks)
            if proc.alive():
                found.add(proc)
    return found


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


_STACK_VARIABLES = frozenset(
    {
        "DEVSTACK_DIR",
        "D1_DATABASE_PATH",
        "WORKER_RUNTIME",
        "BETTER_AUTH_SECRET",
        "INTERNAL_API_KEY",
        "INTERNAL_API_KEYS",
        "OPERATOR_API_KEY",
        "PLATFORM_API_KEY",
        "MIN_TRANSFER_AMOUNTS",
        "FRONTEND_ORIGINS",
        "FRONTEND_PORT",
        "DEMO_PASSWORD",
        "STRIPE_SECRET_KEY",
        "STRIPE_API_BASE",
        "STRIPE_WEBHOOK_SECRETS",
        "STRIPE_FAKE_WEBHOOK_SECRET",
        "STRIPE_FAKE_CONNECT_WEBHOOK_SECRET",
        "STRIPE_FAKE_STATE_FILE",
        "STRIPE_FAKE_API_KEYS",
        "STRIPE_FAKE_WEBHOOK_URL",
        "BETTER_AUTH_SESSION_STORAGE",
        "SESSIONS_KV_PATH",
        "STRIPE_PUBLISHABLE_KEY",
        "CONNECT_ACCOUNT_PROFILE",
        "CONNECT_COLLECTION_FIELDS",
    }
)


@dataclass
class RunningStack:
    """`python -m devstack.run` — the exact command `make dev` runs — as a child of the test."""

    popen: subprocess.Popen[bytes]
    state_dir: Path
    log: Path
    ports: dict[str, int]

    @classmethod
    def start(cls, state_dir: Path, *, extra_env: dict[str, str] | None = None) -> RunningStack:
        worker, backend, fake, frontend = free_ports(4)
        ports = {
            "WORKER_PORT": worker,
            "BACKEND_PORT": backend,
            "STRIPE_FAKE_PORT": fake,
            "FRONTEND_PORT": frontend,
        }
        # The developer's own stack settings must not leak in (their D1 file, a real Stripe key).
        env = {k: v for k, v in os.environ.items() if k not in _STACK_VARIABLES}
        env.update({name: str(port) for name, port in ports.items()})
        env["DEVSTACK_DIR"] = str(state_dir)
        env.update(extra_env or {})
        log = state_dir.parent / f"{state_dir.name}.log"
        state_dir.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "devstack.run"],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return cls(popen=popen, state_dir=state_dir, log=log, ports=ports)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_up(self, *, timeout: float = 60.0) -> DemoState:
        """The state `make dev` writes once every part is ready."""
        path = self.state_dir / "demo.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(
                    f"devstack.run exited with {self.popen.returncode}:\n{self.output()}"
                )
            if path.exists():
                return read_demo_state(path)
            time.sleep(0.1)
        raise AssertionError(f"stack not up after {timeout} s:\n{self.output()}")

    def stop(self, *, timeout: float = 30.0) -> int:
        """Ctrl-C, as a developer would; returns the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(2)  # SIGINT
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(f"devstack.run ignored Ctrl-C:\n{self.output()}") from None

    def kill_tree(self) -> None:
        """Teardown of last resort: whatever a failed test left, gone."""
        for proc in descendants(self.popen.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, 9)
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()
