"""`make soak` itself works: a short run starts the stack, holds the load and passes its audit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.reliability.replica import REPO


def test_a_short_soak_run_holds_its_load_and_passes_the_d1_audit() -> None:
    env = {
        **os.environ,
        "SOAK_REQUESTS": "400",
        "SOAK_SECONDS": "30",
        "SOAK_CONCURRENCY": "8",
        "SOAK_RETURNS": "12",  # the money-back phase: refunds and disputes of 12 payments
    }
    # Its own process group: if it hangs, the stack it started goes down with it.
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.soak"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=100)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == 0, out
    assert "soak: 400 requests" in out
    assert "errors: 0 (0.00 %)" in out
    assert out.count("  PASS  ") == 11, out  # six for the load, five for the money-back phase
    assert "payments kept their net share of what is left" in out
    assert "FAIL" not in out
    assert "soak passed" in out
