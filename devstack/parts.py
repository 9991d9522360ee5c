"""What `make dev` runs: the D1 file prepared, then one process spec per part.

Each part is started exactly as `make worker`, `make stripe-fake` and `make backend` start it
alone: the same module, configured only through the environment variables the README lists. The
auth app (real Better Auth in Node, serving the frontend) runs on the same SQLite file as D1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from devstack.kv_seed import mirror_session
from devstack.migrate import BETTER_AUTH_TABLES, apply_migrations
from devstack.platform_auth import described, prepare_platform_database
from devstack.processes import ProcessSpec, StackError, http_probe
from devstack.seed_demo import DemoIdentity, seed_demo
from devstack.stack_config import HOST, REPO_ROOT, StackConfig

__all__ = [
    "AUTH_APP_DIR",
    "STRIPE_FAKE_API_KEY",
    "WEBHOOK_PATH",
    "local_d1_file",
    "part_specs",
    "prepare_database",
]

WEBHOOK_PATH = "/api/connect/webhook"
WORKER_DIR = REPO_ROOT / "worker"
AUTH_APP_DIR = REPO_ROOT / "auth_app"
D1_BINDING = "DB"
# The key the backend presents to the fake: it guards nothing, so a fixed, obvious value.
STRIPE_FAKE_API_KEY = "sk_test_devstack_local_fake"


def prepare_database(config: StackConfig, *, say: Callable[[str], None]) -> DemoIdentity:
    """Apply missing migrations to the local D1 and seed (or find) the demo user and org."""
    if config.auth_config is not None:
        identity = prepare_platform_database(config, say=say)
        say(f"demo identity {'created' if identity.created else 'reused'}: {identity.user_email}")
        return identity
    if config.worker_runtime == "wrangler":
        path = _wrangler_local_d1(config, say=say)
    else:
        path = config.d1_path
        applied = apply_migrations(path)
        say(f"D1 {path}: {'applied ' + ', '.join(applied) if applied else 'migrations up to date'}")
    identity = seed_demo(path, secret=config.better_auth_secret, password=config.demo_password)
    if config.session_storage == "secondary":
        mirror_session(path, config.sessions_kv_path, session_id=identity.session_id)
    say(f"demo identity {'created' if identity.created else 'reused'}: {identity.user_email}")
    return identity


def local_d1_file(config: StackConfig) -> Path:
    """The SQLite file the Worker serves as D1 (wrangler's own under WORKER_RUNTIME=wrangler)."""
    if config.worker_runtime == "wrangler":
        return _find_wrangler_d1(config.wrangler_persist_dir)
    return config.d1_path


def part_specs(config: StackConfig, *, d1_path: Path | None = None) -> list[ProcessSpec]:
    """Worker, the Stripe fake (when there is no real key), the backend, then the auth app.

    `d1_path` is the file the auth app opens: the Worker's D1 (default `config.d1_path`).
    """
    specs = [] if config.otlp_url is None else [_otlp_receiver_spec(config, config.otlp_url)]
    specs.append(_worker_spec(config))
    if config.uses_stripe_fake:
        specs.append(_stripe_fake_spec(config))
    specs.append(_backend_spec(config))
    specs.append(_auth_app_spec(config, d1_path=d1_path or config.d1_path))
    return specs


def _base_env(extra: Mapping[str, str], *, without: tuple[str, ...] = ()) -> dict[str, str]:
    """This process's environment plus `extra`, less `without`: the Worker and the backend each
    refuse to start when given both the one-key and the several-key form of the internal key, and
    `make dev` reads `INTERNAL_API_KEY` from the shell."""
    env = {k: v for k, v in os.environ.items() if k not in without}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


_WORKER_DROPS = ("INTERNAL_API_KEY",)
_BACKEND_DROPS = ("INTERNAL_API_KEYS",)


def _session_storage_env(config: StackConfig, *, worker: bool = True) -> dict[str, str]:
    """Sessions in secondary storage: the auth app writes them to, and the Worker reads them
    from, one SQLite file standing in for the SESSIONS_KV binding."""
    if config.session_storage != "secondary":
        return {"BETTER_AUTH_SESSION_STORAGE": "database"} if worker else {}
    env = {"SESSIONS_KV_PATH": str(config.sessions_kv_path)}
    return {"BETTER_AUTH_SESSION_STORAGE": "secondary", **env} if worker else env


def _worker_spec(config: StackConfig) -> ProcessSpec:
    ready = http_probe(
        f"{config.worker_url}/api/internal/health",
        headers={"X-API-Key": config.internal_api_key},
    )
    if config.worker_runtime == "wrangler":
        env_file = config.state_dir / "worker.env"
        _write_env_file(
            env_file,
            {
                "BETTER_AUTH_SECRET": config.better_auth_secret,
                "INTERNAL_API_KEYS": f"dev:{config.internal_api_key}",
            },
        )
        argv = [
            "npx",
            "wrangler",
            "dev",
            "--local",
            "--ip",
            HOST,
            "--port",
            str(config.worker_port),
            "--persist-to",
            str(config.wrangler_persist_dir),
            "--env-file",
            str(env_file),
            "--show-interactive-dev-session=false",
        ]
        # workerd fetches the Pyodide bundle on first start: give it time.
        return ProcessSpec(
            name="worker",
            argv=argv,
            env=_base_env({}, without=_WORKER_DROPS),
            cwd=WORKER_DIR,
            ready=ready,
            ready_timeout=300.0,
        )
    # pyodide: the real entry module in npm pyodide (Node), same D1 file and settings; it starts
    # in seconds rather than milliseconds, hence the longer readiness wait.
    pyodide = config.worker_runtime == "pyodide"
    return ProcessSpec(
        name="worker",
        argv=[
            sys.executable,
            "-m",
            "devstack.pyodide_worker" if pyodide else "devstack.worker_host",
        ],
        env=_base_env(
            {
                "D1_DATABASE_PATH": str(config.d1_path),
                "BETTER_AUTH_SECRET": config.better_auth_secret,
                "INTERNAL_API_KEYS": f"dev:{config.internal_api_key}",
                "WORKER_PORT": str(config.worker_port),
                "WORKER_HOST": HOST,
                **_session_storage_env(config),
                "WORKER_REQUEST_LOG": "1",
                **({"BETTER_AUTH_SCHEMA": described(config)} if config.auth_config else {}),
            },
            without=_WORKER_DROPS,
        ),
        cwd=REPO_ROOT,
        ready=ready,
        ready_timeout=120.0 if pyodide else 60.0,
    )


def _otlp_receiver_spec(config: StackConfig, url: str) -> ProcessSpec:
    return ProcessSpec(
        name="otlp",
        argv=[sys.executable, "-m", "devstack.otlp_receiver"],
        env=_base_env({"OTLP_RECEIVER_HOST": HOST, "OTLP_RECEIVER_PORT": str(config.otlp_port)}),
        cwd=REPO_ROOT,
        ready=http_probe(url),
    )


def _telemetry_env(config: StackConfig) -> dict[str, str]:
    """The standard OTLP variables pointing the backend at the local receiver (`OTEL=1`)."""
    if config.otlp_url is None:
        return {}
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": config.otlp_url,
        "OTEL_METRIC_EXPORT_INTERVAL": "10000",
        "OTEL_BSP_SCHEDULE_DELAY": "1000",
    }


def _stripe_fake_spec(config: StackConfig) -> ProcessSpec:
    platform_secret, connect_secret = config.webhook_secrets
    return ProcessSpec(
        name="stripe-fake",
        argv=[sys.executable, "-m", "stripe_fake"],
        env=_base_env(
            {
                "STRIPE_FAKE_HOST": HOST,
                "STRIPE_FAKE_PORT": str(config.stripe_fake_port),
                "STRIPE_FAKE_WEBHOOK_URL": config.backend_url + WEBHOOK_PATH,
                "STRIPE_FAKE_WEBHOOK_SECRET": platform_secret,
                "STRIPE_FAKE_CONNECT_WEBHOOK_SECRET": connect_secret,
                "STRIPE_FAKE_API_KEYS": STRIPE_FAKE_API_KEY,
                "STRIPE_FAKE_STATE_FILE": str(config.state_dir / "stripe-fake.json"),
            }
        ),
        cwd=REPO_ROOT,
        ready=http_probe(f"{config.stripe_fake_url}/_fake/webhooks/deliveries"),
    )


def _backend_spec(config: StackConfig) -> ProcessSpec:
    if config.uses_stripe_fake:
        stripe = {
            "STRIPE_SECRET_KEY": STRIPE_FAKE_API_KEY,
            "STRIPE_API_BASE": config.stripe_fake_url,
        }
    else:
        assert config.stripe_secret_key is not None
        stripe = {
            "STRIPE_SECRET_KEY": config.stripe_secret_key,
            "STRIPE_API_BASE": config.stripe_api_base or "",
        }
    return ProcessSpec(
        name="backend",
        argv=[sys.executable, "-m", "backend"],
        env=_base_env(
            {
                **stripe,
                "BACKEND_HOST": HOST,
                "BACKEND_PORT": str(config.backend_port),
                "WORKER_URL": config.worker_url,
                "INTERNAL_API_KEY": config.internal_api_key,
                "STRIPE_WEBHOOK_SECRETS": ",".join(config.webhook_secrets),
                "FRONTEND_ORIGINS": config.frontend_origins,
                "OPERATOR_API_KEY": config.operator_api_key,
                "PLATFORM_API_KEY": config.platform_api_key,
                # The local auth app sends no verification emails: a local sign-up stays
                # unverified, and onboarding it is the point of the local stack.
                "ONBOARDING_REQUIRES_VERIFIED_EMAIL": "false",
                # One developer (or the browser story) walks every flow within a minute; the
                # production defaults (docs/rate-limits.md) would hold them. Still on, still 429.
                "RATE_LIMIT_USER_PER_MINUTE": "600",
                "RATE_LIMIT_USER_BURST": "100",
                "RATE_LIMIT_ORGANIZATION_PER_MINUTE": "600",
                "RATE_LIMIT_ORGANIZATION_BURST": "100",
                "CONNECT_ACCOUNT_PROFILE": config.connect_account_profile,
                **_telemetry_env(config),
            },
            without=_BACKEND_DROPS,
        ),
        cwd=REPO_ROOT,
        ready=http_probe(f"{config.backend_url}/readyz"),
    )


def backend_env(config: StackConfig) -> dict[str, str]:
    """The backend's environment in this stack (also what `make reconcile` runs with)."""
    return dict(_backend_spec(config).env)


def _auth_app_spec(config: StackConfig, *, d1_path: Path) -> ProcessSpec:
    node = shutil.which("node")
    if node is None:
        raise StackError("the auth app needs Node 20+ on PATH (apt-get install nodejs)")
    return ProcessSpec(
        name="auth-app",
        argv=[node, "server.mjs"],
        env=_base_env(
            {
                "D1_DATABASE_PATH": str(d1_path),
                "BETTER_AUTH_SECRET": config.better_auth_secret,
                "BETTER_AUTH_URL": config.frontend_url,
                "BACKEND_URL": config.backend_url,
                "FRONTEND_HOST": HOST,
                "FRONTEND_PORT": str(config.frontend_port),
                **_session_storage_env(config, worker=False),
                "STRIPE_PUBLISHABLE_KEY": config.stripe_publishable_key or "",
                **({"AUTH_CONFIG": str(config.auth_config)} if config.auth_config else {}),
            },
            without=("SESSIONS_KV_PATH",),
        ),
        cwd=AUTH_APP_DIR,
        ready=http_probe(f"http://{HOST}:{config.frontend_port}/api/auth/ok"),
    )


def _wrangler_local_d1(config: StackConfig, *, say: Callable[[str], None]) -> Path:
    """Apply migrations with wrangler itself and return the SQLite file miniflare keeps D1 in."""
    persist = config.wrangler_persist_dir
    if not _wrangler_d1_files(persist):
        # A new local D1 gets Better Auth's tables first, as devstack.migrate gives an empty file:
        # the migrations only check that they are there.
        say("creating Better Auth's tables in the new local D1 (wrangler) …")
        _wrangler(["d1", "execute", D1_BINDING, "--file", str(BETTER_AUTH_TABLES)], persist)
    say("applying D1 migrations with wrangler (local) …")
    _wrangler(["d1", "migrations", "apply", D1_BINDING], persist)
    return _find_wrangler_d1(persist)


def _wrangler(args: list[str], persist: Path) -> None:
    result = subprocess.run(
        ["npx", "wrangler", *args, "--local", "--persist-to", str(persist)],
        cwd=WORKER_DIR,
        env=_base_env({"CI": "1"}),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"wrangler {' '.join(args[:3])} failed with status {result.returncode}")


def _wrangler_d1_files(persist: Path) -> list[Path]:
    return [p for p in sorted(persist.glob("v3/d1/*/*.sqlite")) if p.name != "metadata.sqlite"]


def _find_wrangler_d1(persist: Path) -> Path:
    # miniflare keeps one `<hash>.sqlite` per database beside its own `metadata.sqlite`.
    found = _wrangler_d1_files(persist)
    if len(found) != 1:
        raise StackError(f"expected one local D1 file under {persist}, found {len(found)}")
    return found[0]


def _write_env_file(path: Path, values: Mapping[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        for name, value in values.items():
            handle.write(f'{name}="{value}"\n')
