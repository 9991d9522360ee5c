"""No Docker engine runs here: check what the Dockerfile copies and runs, and run its command."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx

from devstack.ports import free_port
from tests.fixtures.backend import BackendStack

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "backend" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def test_dockerfile_is_slim_non_root_and_installs_the_pinned_list() -> None:
    steps = instructions()
    assert re.fullmatch(r"python:3\.11-slim(@sha256:[0-9a-f]{64})?", steps[0][1])
    users = [arg for kw, arg in steps if kw == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    runs = " ".join(arg for kw, arg in steps if kw == "RUN")
    assert "pip install" in runs
    assert "-r backend/requirements.txt" in runs
    pins = [
        line
        for line in (ROOT / "backend" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert pins
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][^\s]*", p) for p in pins)


def test_everything_the_dockerfile_copies_exists_in_the_build_context() -> None:
    copies = [arg for kw, arg in instructions() if kw == "COPY"]
    assert copies
    for arg in copies:
        *sources, _dest = shlex.split(arg)
        for source in sources:
            assert (ROOT / source).exists(), source
    assert any("backend/" in arg for arg in copies)


def test_railway_config_uses_the_dockerfile_and_a_real_health_path() -> None:
    config = tomllib.loads((ROOT / "backend" / "railway.toml").read_text())
    assert config["build"]["builder"] == "DOCKERFILE"
    assert (ROOT / config["build"]["dockerfilePath"]).resolve() == DOCKERFILE
    assert config["deploy"]["healthcheckPath"] in ("/readyz", "/healthz")
    assert config["deploy"]["restartPolicyType"] in ("ON_FAILURE", "ALWAYS")


def test_the_dockerfile_command_starts_the_app_on_port(backend_stack: BackendStack) -> None:
    cmd = next(arg for kw, arg in reversed(instructions()) if kw == "CMD")
    argv = json.loads(cmd)
    port = free_port()
    env = {**os.environ, **backend_stack.env, "PORT": str(port)}
    env["BACKEND_HOST"] = "127.0.0.1"  # the image says 0.0.0.0; tests bind loopback only
    env.update({"PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}"})
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "the image's command never served"
                time.sleep(0.1)
        assert r.status_code == 200
        assert r.json()["worker"] is True
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
