from __future__ import annotations

import shutil
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from bench.wrk import parse_wrk_output, run_wrk, wrk_command
from tests.bench.local_http import serving

# What `wrk --latency -s bench/lua/report.lua` prints: wrk's own text, then our JSON line.
SAMPLE = """\
Running 3s test @ http://127.0.0.1:8791/bare
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.11ms    0.52ms   8.38ms   88.00%
    Req/Sec    22.65k     1.10k   24.00k    80.00%
  67944 requests in 3.00s, 9.46MB read
  Non-2xx or 3xx responses: 12
Requests/sec:  22648.00
Transfer/sec:      3.15MB
BENCH_JSON {"requests": 67944, "duration_us": 3000000, "bytes": 9920000, \
"errors": {"connect": 0, "read": 1, "write": 0, "status": 12, "timeout": 2}, \
"latency_us": {"p50": 1983, "p90": 2500, "p99": 8380, "max": 9000, "mean": 2110.5}}
"""


def test_parse_reads_the_json_line_and_counts_every_error_kind() -> None:
    result = parse_wrk_output(SAMPLE)
    assert result.requests == 67944
    assert result.duration_s == 3.0
    assert result.rps == pytest.approx(22648.0)
    assert result.non_2xx == 12
    assert result.errors == 15
    assert not result.ok
    assert result.p50_ms == pytest.approx(1.983)
    assert result.p99_ms == pytest.approx(8.38)


def test_parse_without_the_json_line_is_an_error_not_zero() -> None:
    with pytest.raises(ValueError, match="BENCH_JSON"):
        parse_wrk_output(SAMPLE.split("BENCH_JSON")[0])


def test_command_pins_wrk_to_a_core_with_one_thread() -> None:
    cmd = wrk_command("/usr/bin/wrk", "http://127.0.0.1:1/x", connections=50, duration_s=3.4, cpu=1)
    if shutil.which("taskset"):
        assert cmd[:3] == ["taskset", "-c", "1"]
    assert "-t1" in cmd
    assert "-c50" in cmd
    assert "-d3s" in cmd
    assert cmd[-1] == "http://127.0.0.1:1/x"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        ok = self.headers.get("Authorization") == "Bearer tok-123"
        body = b'{"ok": true}'
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    with serving(_Handler) as base:
        yield base + "/status"


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk not installed (make bench installs it)"
)
def test_real_wrk_runs_the_lua_script_sends_the_token_and_counts_non_2xx(server_url: str) -> None:
    wrk = shutil.which("wrk")
    assert wrk is not None
    good = run_wrk(wrk, server_url, connections=2, duration_s=1, cpu=None, token="tok-123")
    assert good.requests > 0
    assert good.errors == 0
    bad = run_wrk(wrk, server_url, connections=2, duration_s=1, cpu=None, token="wrong")
    assert bad.requests > 0
    assert bad.non_2xx == bad.requests
