"""The load generator: `wrk`, installed on demand, driven through one Lua script that reports JSON.

wrk is the generator because it costs one core and nothing else: a Python generator would be the
bottleneck long before the servers are.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_SCRIPT = Path(__file__).with_name("lua") / "report.lua"
_MARKER = "BENCH_JSON "


class WrkUnavailableError(RuntimeError):
    """wrk is missing and cannot be installed here."""


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    duration_s: float
    errors: int
    non_2xx: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.requests > 0 and self.errors == 0


def parse_wrk_output(stdout: str) -> WrkResult:
    """Read the JSON line the Lua `done` hook prints; wrk's own text is ignored."""
    for line in stdout.splitlines():
        if line.startswith(_MARKER):
            data = json.loads(line[len(_MARKER) :])
            errs = data["errors"]
            latency = data["latency_us"]
            return WrkResult(
                requests=int(data["requests"]),
                duration_s=int(data["duration_us"]) / 1_000_000,
                errors=sum(int(v) for v in errs.values()),
                non_2xx=int(errs["status"]),
                p50_ms=int(latency["p50"]) / 1000,
                p99_ms=int(latency["p99"]) / 1000,
            )
    raise ValueError("wrk output has no BENCH_JSON line (did the Lua script load?)")


def ensure_wrk() -> str:
    """Return wrk's path, installing the Debian package when running as root with apt."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise WrkUnavailableError(
            "`wrk` is not installed and cannot be installed automatically (needs root and "
            "apt-get). Install it with your package manager (Debian/Ubuntu: apt-get install wrk)."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run([apt, "update", "-qq"], env=env, capture_output=True, check=False)
        done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise WrkUnavailableError(f"apt-get install wrk failed: {done.stderr.strip()[-400:]}")
    found = shutil.which("wrk")
    if not found:
        raise WrkUnavailableError("apt-get installed wrk but it is not on PATH")
    return found


def wrk_command(
    wrk: str,
    url: str,
    *,
    connections: int,
    duration_s: float,
    cpu: int | None,
    timeout_s: float = 5.0,
) -> list[str]:
    """One thread: wrk is pinned to one core, and a second thread would only contend for it."""
    cmd = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={max(1, round(timeout_s))}s",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]
    return pin(cmd, cpu)


def pin(cmd: list[str], cpu: int | None) -> list[str]:
    """Prefix `taskset -c N` when pinning is wanted and possible."""
    if cpu is None or shutil.which("taskset") is None:
        return cmd
    return ["taskset", "-c", str(cpu), *cmd]


def run_wrk(
    wrk: str,
    url: str,
    *,
    connections: int,
    duration_s: float,
    cpu: int | None,
    token: str | None = None,
) -> WrkResult:
    env = {**os.environ, "BENCH_TOKEN": token or ""}
    cmd = wrk_command(wrk, url, connections=connections, duration_s=duration_s, cpu=cpu)
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=duration_s + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return parse_wrk_output(done.stdout)
