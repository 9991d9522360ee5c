from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from bench.host_cpu import drive
from bench.machine import cpu_seconds
from tests.bench.local_http import serving

BODY = '{"token": "tok", "organization_id": "org_1"}'
KEY = "k" * 48


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        sent = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        ok = (
            sent == BODY
            and self.headers.get("X-API-Key") == KEY
            and self.headers.get("Content-Type") == "application/json"
        )
        reply = b'{"ok":true}'
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    with serving(_Handler) as base:
        yield base + "/api/internal/verify-user-context"


def test_cpu_seconds_counts_the_cpu_a_process_spends() -> None:
    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass
    assert cpu_seconds(os.getpid()) - before >= 0.05


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk not installed (make bench installs it)"
)
def test_drive_posts_the_json_body_with_the_api_key_and_charges_the_server_cpu(
    server_url: str,
) -> None:
    wrk = shutil.which("wrk")
    assert wrk is not None
    # The server runs in this process, so its CPU is this pid's.
    rps, cpu_per_request, _, errors = drive(
        wrk, server_url, os.getpid(), body=BODY, key=KEY, connections=2, duration_s=1, cpu=None
    )
    assert rps > 0
    assert errors == 0
    assert cpu_per_request > 0
    *_, refused = drive(
        wrk, server_url, os.getpid(), body=BODY, key="wrong", connections=2, duration_s=1, cpu=None
    )
    assert refused > 0
