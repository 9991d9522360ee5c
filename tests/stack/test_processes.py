"""The supervisor under `make dev`: readiness, watching, and stopping that leaves nothing behind."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.processes import ProcessSpec, StackError, Supervisor
from tests.stack.procs import Proc, descendants


def _spec(name: str, code: str, *, ready: bool = True, timeout: float = 10.0) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        argv=[sys.executable, "-c", code],
        env=dict(os.environ),
        ready=lambda: ready,
        ready_timeout=timeout,
    )


@pytest.fixture
def supervisor() -> Iterator[tuple[Supervisor, io.StringIO]]:
    out = io.StringIO()
    with Supervisor(out=out, stop_timeout=1.0) as sup:
        yield sup, out


def _tree(pid: int) -> set[Proc]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = descendants(pid)
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("child started nothing")


def _dies(proc: Proc, *, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while proc.alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_stop_all_kills_a_child_that_ignores_sigterm_and_its_grandchild(
    supervisor: tuple[Supervisor, io.StringIO], tmp_path: Path
) -> None:
    sup, out = supervisor
    marker = tmp_path / "ready"
    code = (
        "import signal, subprocess, sys, time, pathlib\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"pathlib.Path({str(marker)!r}).write_text('x')\n"
        "time.sleep(60)\n"
    )
    child = sup.start(_spec("stubborn", code, ready=True))
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchildren = list(_tree(child.pid))
    assert len(grandchildren) == 1

    started = time.monotonic()
    sup.stop_all()

    assert time.monotonic() - started < 5
    assert child.popen.returncode == -signal.SIGKILL
    assert _dies(grandchildren[0])  # SIGKILL is delivered asynchronously
    assert "stubborn did not stop in 1 s; killing it" in out.getvalue()
    assert sup.children == ()


def test_output_is_prefixed_with_the_part_name(supervisor: tuple[Supervisor, io.StringIO]) -> None:
    sup, out = supervisor
    child = sup.start(_spec("echoer", "print('hello'); print('world')"))
    child.popen.wait(timeout=10)
    child.pump.join(timeout=5)
    assert "echoer     | hello\n" in out.getvalue()
    assert "echoer     | world\n" in out.getvalue()


def test_wait_ready_fails_fast_when_the_child_exits(
    supervisor: tuple[Supervisor, io.StringIO],
) -> None:
    sup, _ = supervisor
    with pytest.raises(StackError, match="quitter exited with status 3 while starting"):
        sup.start_ready(_spec("quitter", "raise SystemExit(3)", ready=False))


def test_wait_ready_gives_up_after_the_timeout(supervisor: tuple[Supervisor, io.StringIO]) -> None:
    sup, _ = supervisor
    with pytest.raises(StackError, match="sleeper was not ready after 0 s"):
        sup.start_ready(_spec("sleeper", "import time; time.sleep(60)", ready=False, timeout=0.3))


def test_wait_ready_stops_waiting_when_a_stop_is_requested(
    supervisor: tuple[Supervisor, io.StringIO],
) -> None:
    sup, _ = supervisor
    sup.stopping.set()
    with pytest.raises(StackError, match="interrupted"):
        sup.start_ready(_spec("sleeper", "import time; time.sleep(60)", ready=False))


def test_watch_reports_a_dead_child(supervisor: tuple[Supervisor, io.StringIO]) -> None:
    sup, out = supervisor
    sup.start(_spec("steady", "import time; time.sleep(60)"))
    sup.start(_spec("short", "import time; time.sleep(0.3); raise SystemExit(4)"))
    assert sup.watch() == 1
    assert "short exited with status 4; stopping the stack" in out.getvalue()


def test_watch_returns_zero_on_a_requested_stop(
    supervisor: tuple[Supervisor, io.StringIO],
) -> None:
    sup, _ = supervisor
    child = sup.start(_spec("steady", "import time; time.sleep(60)"))
    sup.stopping.set()
    assert sup.watch() == 0
    sup.stop_all()
    assert child.popen.returncode == -signal.SIGTERM


def test_each_child_runs_in_its_own_process_group(
    supervisor: tuple[Supervisor, io.StringIO],
) -> None:
    sup, _ = supervisor
    child = sup.start(_spec("grouped", "import time; time.sleep(60)"))
    assert os.getpgid(child.pid) == child.pid
    assert os.getpgid(child.pid) != os.getpgid(0)


def test_a_killed_supervisor_takes_its_children_with_it(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: even `kill -9` on `make dev` leaves no part running."""
    script = (
        "import os, sys, time\n"
        "from devstack.processes import ProcessSpec, Supervisor\n"
        "sup = Supervisor()\n"
        "child = sup.start(ProcessSpec(name='orphan', argv=[sys.executable, '-c', "
        "'import time; time.sleep(60)'], env=dict(os.environ), ready=lambda: True))\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
    )
    started: set[Proc] = set()
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        started = _tree(parent.pid)
        child = next(p for p in started if p.pid == child_pid)
        parent.kill()
        parent.wait()
        assert _dies(child)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
        for proc in started:
            if proc.alive():
                os.kill(proc.pid, signal.SIGKILL)
