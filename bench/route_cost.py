"""`python -m bench.route_cost`: the backend's own CPU per request on the status route and on
`/healthz`, without the HTTP server around it — the A/B measure for a change to the route's work.

`make bench` reads the server's CPU under wrk, which is the figure users see but moves with
whatever else runs on the machine (a change of 10 µs is lost in it). Here the app is driven in
process through ASGI — the same middleware, router, endpoint, authenticator and Worker pool, the
status route calling a real Worker host over loopback — by `concurrency` tasks, and the process's
own CPU time (`time.process_time`) is divided by the requests served. uvicorn's share (parsing,
writing) is the same for both routes and is not in these figures; the difference status − healthz
is the route's own work, which is what bounds the status/bare ratio in `make bench`.

`--ref REF` also measures `backend/` as it was at git REF, in the same run, rounds interleaved.
`--otel` also measures this tree with OpenTelemetry on (the standard `OTEL_*` variables pointing
at a local `devstack.otlp_receiver` on the load core): spans and metrics made and exported, the
exporter threads' CPU included — once as the backend runs with only the endpoint set (its default
sampler records 1 trace in 100), and once per `--otel-samplers` value of `OTEL_TRACES_SAMPLER`
(default `parentbased_always_on`, the SDK's own default: every trace recorded;
`parentbased_traceidratio:0.1` sets `OTEL_TRACES_SAMPLER_ARG` too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from bench.procs import PYTHON, REPO
from bench.stack import (
    LOAD_CPU,
    SERVER_CPU,
    Secrets,
    backend_env,
    seed_principal,
    source_at,
    worker_host_server,
)
from bench.wrk import pin
from devstack.ports import free_port

Headers = list[tuple[bytes, bytes]]


async def _serve_one(app: Any, scope: dict[str, Any]) -> int:
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


def _scope(path: str, headers: Headers) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "state": {},
    }


async def _cost(app: Any, scope: dict[str, Any], *, requests: int, concurrency: int) -> float:
    """CPU µs per request for `requests` requests, `concurrency` at a time."""
    left = requests

    async def client() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            status = await _serve_one(app, scope)
            if status != 200:
                raise RuntimeError(f"{scope['path']} answered {status}")

    await asyncio.gather(*(client() for _ in range(concurrency)))  # warm: connections open
    left = requests
    started = time.process_time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return (time.process_time() - started) / requests * 1e6


@contextlib.asynccontextmanager
async def _app() -> AsyncIterator[Any]:
    from backend.app import create_app

    app = create_app()
    async with app.router.lifespan_context(app):
        yield app


async def _measure(args: argparse.Namespace) -> dict[str, list[float]]:
    headers: Headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"authorization", f"Bearer {os.environ['ROUTE_COST_TOKEN']}".encode()),
    ]
    status = _scope(f"/api/connect/status/{args.org}", headers)
    healthz = _scope("/healthz", [(b"host", b"127.0.0.1:8000")])
    costs: dict[str, list[float]] = {"healthz": [], "status": []}
    async with _app() as app:
        for _ in range(args.rounds):
            for name, scope in (("healthz", healthz), ("status", status)):
                costs[name].append(
                    await _cost(app, scope, requests=args.requests, concurrency=args.concurrency)
                )
    return costs


def _child(args: argparse.Namespace) -> None:
    import uvloop

    costs = uvloop.run(_measure(args))
    print(json.dumps(costs))


@contextlib.contextmanager
def _otlp_receiver(log_dir: Path) -> Iterator[str]:
    """`python -m devstack.otlp_receiver` on the load core, its printout to a file."""
    port = free_port()
    with (log_dir / "otlp.log").open("w") as out:
        process = subprocess.Popen(
            pin([PYTHON, "-m", "devstack.otlp_receiver"], LOAD_CPU),
            cwd=REPO,
            env={**os.environ, "OTLP_RECEIVER_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(10)


def wait_for_port(port: int, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _run_child(
    cwd: Path, env: dict[str, str], *, token: str, org: str, args: argparse.Namespace
) -> dict[str, list[float]]:
    cmd = [
        PYTHON,
        "-m",
        "bench.route_cost",
        "--child",
        f"--org={org}",
        "--rounds=1",
        f"--requests={args.requests}",
        f"--concurrency={args.concurrency}",
    ]
    # `backend` from `cwd` (a baseline's extracted tree, or this one), `bench` from this tree.
    path = os.pathsep.join([str(cwd), str(REPO)])
    done = subprocess.run(
        pin(cmd, SERVER_CPU),
        cwd=cwd,
        env={**os.environ, **env, "PYTHONPATH": path, "ROUTE_COST_TOKEN": token},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the measuring process failed:\n{done.stderr[-2000:]}")
    result: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _otel_variants(args: argparse.Namespace) -> dict[str, dict[str, str]]:
    """Variant name → the `OTEL_*` it adds to the endpoint's."""
    if not args.otel:
        return {}
    found: dict[str, dict[str, str]] = {"otel": {}}
    for sampler in filter(None, args.otel_samplers.split(",")):
        name, _, arg = sampler.partition(":")
        extra = {"OTEL_TRACES_SAMPLER": name, **({"OTEL_TRACES_SAMPLER_ARG": arg} if arg else {})}
        found[f"otel {sampler}"] = extra
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.route_cost", description=__doc__)
    parser.add_argument("--ref", help="also measure backend/ at this git ref (the baseline)")
    parser.add_argument(
        "--ref-otel", action="store_true", help="with --ref and --otel: the baseline's OTel too"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--otel", action="store_true", help="also measure with OpenTelemetry on")
    parser.add_argument(
        "--otel-samplers",
        default="parentbased_always_on",
        help="with --otel, also measure under each of these OTEL_TRACES_SAMPLER values",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--org", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args)
        return 0
    with tempfile.TemporaryDirectory(prefix="route-cost-") as tmp:
        d1_path = Path(tmp) / "d1.sqlite3"
        keys = Secrets.generate()
        principal = seed_principal(d1_path, secret=keys.better_auth)
        port = free_port()
        worker_url = f"http://127.0.0.1:{port}"
        worker = worker_host_server(
            "worker-host",
            port,
            d1_path=d1_path,
            keys=keys,
            cpu=LOAD_CPU,  # the measured process has core 0 to itself, as in `make bench`
            log_dir=Path(tmp),
        )
        env = backend_env(
            free_port(),
            keys=keys,
            worker_url=worker_url,
            stripe_url="http://127.0.0.1:9",  # the status route without refresh never calls it
            USER_CONTEXT_CACHE_TTL_SECONDS="0",
        )
        del env["BACKEND_PORT"]
        variants: dict[str, tuple[Path, dict[str, str]]] = {"current": (REPO, {})}
        if args.ref_otel and not (args.ref and args.otel):
            parser.error("--ref-otel needs --ref and --otel")
        if args.ref:
            baseline = source_at(args.ref, Path(tmp) / "baseline", "backend")
            variants["baseline"] = (baseline, {})
        otel = _otel_variants(args)
        trees = {"": REPO, **({"baseline ": variants["baseline"][0]} if args.ref_otel else {})}
        costs: dict[str, dict[str, list[float]]] = {
            v: {"healthz": [], "status": []}
            for v in [*variants, *(f"{tree}{name}" for tree in trees for name in otel)]
        }
        with contextlib.ExitStack() as running:
            running.enter_context(worker)
            if otel:
                otlp = running.enter_context(_otlp_receiver(Path(tmp)))
                for tree, cwd in trees.items():
                    for name, extra in otel.items():
                        endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp, **extra}
                        variants[f"{tree}{name}"] = (cwd, endpoint)
            for _ in range(args.rounds):
                for variant, (cwd, extra) in variants.items():
                    found = _run_child(
                        cwd,
                        {**env, **extra},
                        token=principal.token,
                        org=principal.organization_id,
                        args=args,
                    )
                    for route, values in found.items():
                        costs[variant][route].extend(values)
    print(
        f"in-process CPU µs/request over {args.rounds} rounds × {args.requests} requests at "
        f"concurrency {args.concurrency} (status: Worker host on loopback, cache off); the least "
        "is the steadier figure for an A/B (what others running adds only ever raises a round)"
    )
    width = max(map(len, costs))
    least = {
        v: {route: min(values) for route, values in routes.items()} for v, routes in costs.items()
    }
    for variant, routes in costs.items():
        low = least[variant]
        mid = {route: statistics.median(values) for route, values in routes.items()}
        print(
            f"  {variant:{width}} least: healthz {low['healthz']:6.1f}  status {low['status']:6.1f}"
            f"  status − healthz {low['status'] - low['healthz']:6.1f}"
            f"   |  median: healthz {mid['healthz']:6.1f}  status {mid['status']:6.1f}"
            f"   |  status least ÷ current's {low['status'] / least['current']['status']:5.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
