"""Run the local stack's parts as child processes, and make sure every one of them stops.

Each part runs in its own session (so its own process group): a Ctrl-C in the terminal reaches
only the supervisor, which then stops the parts in reverse start order, and stopping a group also
stops whatever a part spawned itself (``npx wrangler dev`` → node → workerd). On Linux each child
also asks the kernel for SIGTERM when the supervisor dies (``PR_SET_PDEATHSIG``), so even a
SIGKILLed supervisor does not leave a part running.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Self

import httpx

__all__ = [
    "ChildProcess",
    "ProcessSpec",
    "StackError",
    "Supervisor",
    "http_probe",
]

_PR_SET_PDEATHSIG = 1


class StackError(RuntimeError):
    """A part could not start, or died: the stack cannot run."""


@dataclass(frozen=True, kw_only=True)
class ProcessSpec:
    """How to start one part and how to tell that it is ready to serve."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    ready: Callable[[], bool]
    cwd: Path | None = None
    ready_timeout: float = 60.0


@dataclass(kw_only=True)
class ChildProcess:
    spec: ProcessSpec
    popen: subprocess.Popen[bytes]
    pump: threading.Thread = field(repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def name(self) -> str:
        return self.spec.name

    def exited(self) -> int | None:
        return self.popen.poll()


def http_probe(url: str, *, headers: Mapping[str, str] | None = None) -> Callable[[], bool]:
    """A readiness check: the URL answers 2xx within a second."""

    def probe() -> bool:
        try:
            response = httpx.get(url, headers=dict(headers or {}), timeout=1.0)
        except httpx.HTTPError:
            return False
        return response.is_success

    return probe


def _die_with_parent() -> None:
    """Runs in the child between fork and exec (Linux only): SIGTERM me when my parent dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Supervisor:
    """Starts parts, waits for them to be ready, watches them, and stops all of them.

    Use as a context manager: leaving the block stops every child, whatever happened inside it.
    """

    def __init__(self, *, out: IO[str] | None = None, stop_timeout: float = 10.0) -> None:
        self._out = out if out is not None else sys.stdout
        self._out_lock = threading.Lock()
        self._stop_timeout = stop_timeout
        self._children: list[ChildProcess] = []
        self.stopping = threading.Event()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    @property
    def children(self) -> tuple[ChildProcess, ...]:
        return tuple(self._children)

    def say(self, line: str) -> None:
        with self._out_lock:
            self._out.write(line + "\n")
            self._out.flush()

    def start(self, spec: ProcessSpec) -> ChildProcess:
        popen = subprocess.Popen(
            list(spec.argv),
            env=dict(spec.env),
            cwd=spec.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        pump = threading.Thread(
            target=self._pump, args=(spec.name, popen), name=f"pump-{spec.name}", daemon=True
        )
        child = ChildProcess(spec=spec, popen=popen, pump=pump)
        self._children.append(child)
        pump.start()
        return child

    def _pump(self, name: str, popen: subprocess.Popen[bytes]) -> None:
        """Copy a child's output to ours, each line prefixed with the part's name."""
        assert popen.stdout is not None
        prefix = f"{name:<11}| "
        for raw in iter(popen.stdout.readline, b""):
            self.say(prefix + raw.decode("utf-8", "replace").rstrip("\n"))
        popen.stdout.close()

    def wait_ready(self, child: ChildProcess) -> None:
        """Block until the child's readiness probe passes; fail fast if it exits or we stop."""
        deadline = time.monotonic() + child.spec.ready_timeout
        while True:
            code = child.exited()
            if code is not None:
                raise StackError(f"{child.name} exited with status {code} while starting")
            if self.stopping.is_set():
                raise StackError("interrupted while starting")
            if child.spec.ready():
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"{child.name} was not ready after {child.spec.ready_timeout:.0f} s"
                )
            self.stopping.wait(0.1)

    def start_ready(self, spec: ProcessSpec) -> ChildProcess:
        child = self.start(spec)
        self.wait_ready(child)
        return child

    def watch(self) -> int:
        """Block until a stop is requested (0) or any child exits (1)."""
        while not self.stopping.wait(0.2):
            for child in self._children:
                code = child.exited()
                if code is not None:
                    self.say(f"{child.name} exited with status {code}; stopping the stack")
                    return 1
        return 0

    def stop_all(self) -> None:
        """SIGTERM every child's process group (newest first), then SIGKILL what is left."""
        self.stopping.set()
        for child in reversed(self._children):
            _signal_group(child.popen, signal.SIGTERM)
        deadline = time.monotonic() + self._stop_timeout
        for child in reversed(self._children):
            try:
                child.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{child.name} did not stop in {self._stop_timeout:.0f} s; killing it")
        for child in reversed(self._children):
            # Also reaps grandchildren that outlived a part which did exit.
            _signal_group(child.popen, signal.SIGKILL)
            child.popen.wait()
            child.pump.join(timeout=2.0)
        self._children.clear()


def _signal_group(popen: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    # The group id is the child's pid (start_new_session); it lives on while any member does,
    # even after the leader itself was reaped.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signum)
