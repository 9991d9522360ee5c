"""The local stack as `make bench` runs it: real processes on loopback, pinned to cores.

Placement (2 cores): the server under test — our backend or the Hono peer — owns core 0; wrk and
this harness run on core 1. The Worker host (and the Stripe fake, on the webhook path only) run on
`worker_cpu`: core 1 by default, so the front server is measured alone on its core and the Worker
host is a shared upstream for both peers alike (`BENCH_WORKER_CPU=0` puts it beside the server
instead). Both backends and the peer are started once and sit idle while another is measured.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import PYTHON, REPO, Server
from devstack.ports import free_port

HONO_DIR = REPO / "bench" / "hono"
FAKE_API_KEY = "sk_test_bench_fake_key"
SERVER_CPU = 0
LOAD_CPU = 1


@dataclass(frozen=True, slots=True)
class Secrets:
    better_auth: str
    internal_api_key: str
    webhook: str

    @classmethod
    def generate(cls) -> Secrets:
        return cls(
            better_auth=secrets.token_urlsafe(32),
            internal_api_key=secrets.token_urlsafe(48),
            webhook="whsec_" + secrets.token_urlsafe(32),
        )


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    organization_id: str
    token: str  # the signed session token, as the browser sends it


@dataclass(frozen=True, slots=True)
class Stack:
    d1_path: Path
    secrets: Secrets
    principal: Principal
    worker: Server
    worker_url: str
    stripe: Server
    stripe_url: str
    backend: Server  # user-context cache off
    backend_url: str
    backend_cached: Server  # user-context cache on
    backend_cached_url: str
    hono: Server
    hono_url: str
    log_dir: Path
    baseline: Server | None = None  # BENCH_BASELINE_REF's backend, cache off
    baseline_url: str = ""


def backend_env(
    port: int, *, keys: Secrets, worker_url: str, stripe_url: str, **extra: str
) -> dict[str, str]:
    """The environment of a bench backend on the local Worker host and Stripe fake."""
    return {
        "BACKEND_PORT": str(port),
        "WORKER_URL": worker_url,
        "INTERNAL_API_KEY": keys.internal_api_key,
        "STRIPE_SECRET_KEY": FAKE_API_KEY,
        "STRIPE_API_BASE": stripe_url,
        "STRIPE_WEBHOOK_SECRETS": keys.webhook,
        "FRONTEND_ORIGINS": "http://localhost:3000",
        # Production logs requests at the proxy; an access log line per request here would
        # measure the terminal, not the service.
        "LOG_LEVEL": "warning",
        **extra,
    }


def backend_server(
    name: str,
    port: int,
    *,
    keys: Secrets,
    worker_url: str,
    stripe_url: str,
    cache_ttl_s: float,
    log_dir: Path,
    extra_env: dict[str, str] | None = None,
    cwd: Path = REPO,
) -> Server:
    """`python -m backend` on the server core (BENCH_BACKEND_ARGV: a variant, for an A/B)."""
    argv = shlex.split(os.environ.get("BENCH_BACKEND_ARGV") or "") or [PYTHON, "-m", "backend"]
    return Server(
        name,
        argv,
        env=backend_env(
            port,
            keys=keys,
            worker_url=worker_url,
            stripe_url=stripe_url,
            **{"USER_CONTEXT_CACHE_TTL_SECONDS": str(cache_ttl_s), **(extra_env or {})},
        ),
        cpu=SERVER_CPU,
        log_dir=log_dir,
        health_url=f"http://127.0.0.1:{port}/healthz",
        cwd=cwd,
    )


def source_at(ref: str, dest: Path, *paths: str) -> Path:
    """`paths` as they were at git `ref`, extracted under `dest`: the "before" of an A/B that
    runs in the same bench run, on the same machine minute, as the "after"."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", ref, *paths],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def worker_host_server(
    name: str,
    port: int,
    *,
    d1_path: Path,
    keys: Secrets,
    cpu: int | None,
    log_dir: Path,
    cwd: Path = REPO,
    extra_env: dict[str, str] | None = None,
) -> Server:
    """`python -m devstack.worker_host` on `d1_path`, with the bench's secrets."""
    return Server(
        name,
        [PYTHON, "-m", "devstack.worker_host"],
        env={
            "WORKER_PORT": str(port),
            "D1_DATABASE_PATH": str(d1_path),
            "BETTER_AUTH_SECRET": keys.better_auth,
            "INTERNAL_API_KEYS": f"v1:{keys.internal_api_key}",
            **(extra_env or {}),
        },
        cpu=cpu,
        log_dir=log_dir,
        health_url=f"http://127.0.0.1:{port}/api/internal/health",
        cwd=cwd,
    )


def ensure_hono_deps() -> None:
    """`npm ci` in bench/hono when its node_modules are missing or older than the lock file."""
    marker = HONO_DIR / "node_modules" / ".package-lock.json"
    lock = HONO_DIR / "package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    if shutil.which("npm") is None:
        raise RuntimeError("npm is needed for the Hono peer (bench/hono); install Node.js 20+")
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HONO_DIR, check=True
    )


def seed_principal(d1_path: Path, *, secret: str) -> Principal:
    """One owner of one organization with a live session, written as Better Auth writes them."""
    from devstack.migrate import apply_migrations
    from devstack.seed import add_member, create_organization, create_session, create_user
    from devstack.sqlite_d1 import connect

    apply_migrations(d1_path)
    conn = connect(d1_path)
    try:
        user_id = create_user(
            conn, name="Bench Owner", email="bench@example.com", email_verified=True
        )
        org_id = create_organization(conn, name="Bench Org", slug="bench-org")
        add_member(conn, organization_id=org_id, user_id=user_id, role="owner")
        session = create_session(
            conn, user_id=user_id, secret=secret, active_organization_id=org_id
        )
    finally:
        conn.close()
    return Principal(user_id=user_id, organization_id=org_id, token=session.signed_token)


def seed_organizations(
    d1_path: Path, *, count: int, owner_id: str, slug_prefix: str = "hook"
) -> list[str]:
    from devstack.seed import add_member, create_organization
    from devstack.sqlite_d1 import connect

    conn = connect(d1_path)
    try:
        ids = []
        for index in range(count):
            org_id = create_organization(
                conn, name=f"Hook Org {index}", slug=f"{slug_prefix}-{index}"
            )
            add_member(conn, organization_id=org_id, user_id=owner_id, role="owner")
            ids.append(org_id)
        return ids
    finally:
        conn.close()


def http_json(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json_body: object = None,
    form: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data: bytes | None = None
    all_headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        all_headers["Content-Type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def create_paid_payment(stripe_url: str, organization_id: str, amount: int) -> str:
    """A customer paid the platform `amount` USD for this organization's sale (a PaymentIntent
    tagged as the backend's checkout tags it, succeeded through the fake's control API); returns
    the charge a transfer names as its source."""
    status, intent = http_json(
        "POST",
        f"{stripe_url}/v1/payment_intents",
        headers={"Authorization": f"Bearer {FAKE_API_KEY}"},
        form={
            "amount": str(amount),
            "currency": "usd",
            "metadata[organization_id]": organization_id,
        },
    )
    if status != 200:
        raise RuntimeError(f"creating a payment failed: {status} {intent}")
    status, done = http_json("POST", f"{stripe_url}/_fake/payment_intents/{intent['id']}/succeed")
    if status != 200:
        raise RuntimeError(f"completing a payment failed: {status} {done}")
    charge: str = done["latest_charge"]
    return charge


@contextlib.contextmanager
def start_stack(*, worker_cpu: int | None, cache_ttl_s: float, log_dir: Path) -> Iterator[Stack]:
    ensure_hono_deps()
    with tempfile.TemporaryDirectory(prefix="bench-d1-") as tmp:
        d1_path = Path(tmp) / "d1.sqlite3"
        keys = Secrets.generate()
        principal = seed_principal(d1_path, secret=keys.better_auth)
        ports = {name: free_port() for name in ("worker", "stripe", "b0", "b1", "hono", "base")}
        worker_url = f"http://127.0.0.1:{ports['worker']}"
        stripe_url = f"http://127.0.0.1:{ports['stripe']}"
        worker = worker_host_server(
            "worker-host",
            ports["worker"],
            d1_path=d1_path,
            keys=keys,
            cpu=worker_cpu,
            log_dir=log_dir,
        )
        stripe = Server(
            "stripe-fake",
            [PYTHON, "-m", "stripe_fake"],
            env={
                "STRIPE_FAKE_PORT": str(ports["stripe"]),
                "STRIPE_FAKE_API_KEYS": FAKE_API_KEY,
                # The bench sends its own signed events; the fake delivers none.
                "STRIPE_FAKE_WEBHOOK_URL": "",
                "STRIPE_FAKE_WEBHOOK_SECRET": keys.webhook,
            },
            cpu=worker_cpu,
            log_dir=log_dir,
            health_url=f"{stripe_url}/_fake/webhooks/deliveries",
        )

        def backend(name: str, port: int, ttl: float, cwd: Path = REPO) -> Server:
            return backend_server(
                name,
                port,
                keys=keys,
                worker_url=worker_url,
                stripe_url=stripe_url,
                cache_ttl_s=ttl,
                log_dir=log_dir,
                cwd=cwd,
            )

        ref = os.environ.get("BENCH_BASELINE_REF")
        baseline = (
            backend("backend-baseline", ports["base"], 0.0, source_at(ref, Path(tmp), "backend"))
            if ref
            else None
        )

        b0 = backend("backend", ports["b0"], 0.0)
        b1 = backend("backend-cached", ports["b1"], cache_ttl_s)
        hono = Server(
            "hono-peer",
            ["node", "server.mjs"],
            env={
                "HONO_PORT": str(ports["hono"]),
                "WORKER_URL": worker_url,
                "INTERNAL_API_KEY": keys.internal_api_key,
                "NODE_ENV": "production",
            },
            cpu=SERVER_CPU,
            log_dir=log_dir,
            health_url=f"http://127.0.0.1:{ports['hono']}/bare",
            cwd=HONO_DIR,
        )
        with worker, stripe, b0, b1, hono, contextlib.ExitStack() as optional:
            if baseline is not None:
                optional.enter_context(baseline)
            yield Stack(
                d1_path=d1_path,
                secrets=keys,
                principal=principal,
                worker=worker,
                worker_url=worker_url,
                stripe=stripe,
                stripe_url=stripe_url,
                backend=b0,
                backend_url=f"http://127.0.0.1:{ports['b0']}",
                backend_cached=b1,
                backend_cached_url=f"http://127.0.0.1:{ports['b1']}",
                hono=hono,
                hono_url=f"http://127.0.0.1:{ports['hono']}",
                log_dir=log_dir,
                baseline=baseline,
                baseline_url=f"http://127.0.0.1:{ports['base']}" if baseline else "",
            )
