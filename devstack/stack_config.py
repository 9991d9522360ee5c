"""Configuration of the local stack: environment variables over embedded local defaults.

Nothing here needs a Stripe key or a Cloudflare account. The local secrets (Better Auth's secret,
the internal API key, the webhook secret) are generated once per state directory and kept in a
file only the owner can read, so a restarted stack still accepts yesterday's demo token.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from devstack.private_paths import private_dir

__all__ = [
    "REPO_ROOT",
    "DemoState",
    "LocalSecrets",
    "StackConfig",
    "read_demo_state",
    "write_demo_state",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
WorkerRuntime = Literal["python", "pyodide", "wrangler"]


@dataclass(frozen=True, kw_only=True)
class LocalSecrets:
    better_auth_secret: str
    internal_api_key: str
    webhook_secret: str
    connect_webhook_secret: str
    operator_api_key: str
    platform_api_key: str
    demo_password: str

    @classmethod
    def generate(cls) -> LocalSecrets:
        return cls(
            better_auth_secret=secrets.token_urlsafe(32),
            internal_api_key=secrets.token_urlsafe(48),
            webhook_secret="whsec_" + secrets.token_urlsafe(32),
            connect_webhook_secret="whsec_" + secrets.token_urlsafe(32),
            operator_api_key=secrets.token_urlsafe(48),
            platform_api_key=secrets.token_urlsafe(48),
            demo_password=secrets.token_urlsafe(12),
        )

    @classmethod
    def load_or_create(cls, path: Path) -> LocalSecrets:
        """Read the state directory's secrets, creating them (mode 0600) on first use."""
        if path.exists():
            data = json.loads(path.read_text())
            fresh = asdict(cls.generate())
            # A newer stack may know more secrets than the file: fill the gaps, keep the rest.
            merged = {name: str(data.get(name) or fresh[name]) for name in fresh}
            found = cls(**merged)
            if merged != data:
                _write_private(path, json.dumps(merged, indent=2))
            return found
        created = cls.generate()
        _write_private(path, json.dumps(asdict(created), indent=2))
        return created


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    state_dir: Path
    d1_path: Path
    worker_port: int
    backend_port: int
    stripe_fake_port: int
    frontend_port: int
    worker_runtime: WorkerRuntime
    better_auth_secret: str
    internal_api_key: str
    operator_api_key: str
    platform_api_key: str
    demo_password: str
    webhook_secrets: tuple[str, ...]
    stripe_secret_key: str | None
    stripe_api_base: str | None
    frontend_origins: str
    # BETTER_AUTH_SESSION_STORAGE: "database" (the `session` table) or "secondary" (the auth app's
    # secondaryStorage and the Worker's SESSIONS_KV on one SQLite file, `sessions_kv_path`).
    session_storage: str = "database"
    # The profile of accounts the backend creates (`express` | `custom`; the backend checks it),
    # and the publishable key that makes the payouts page show Stripe's embedded components.
    connect_account_profile: str = "express"
    stripe_publishable_key: str | None = None
    # `OTEL=1`: a local OTLP/HTTP receiver (devstack/otlp_receiver.py) on this port, and the
    # backend's telemetry exported to it; None: telemetry off, as in production until configured.
    otlp_port: int | None = None
    # A platform's Better Auth config module (`make dev AUTH_CONFIG=…`); None: Better Auth's
    # defaults (devstack/platform_auth.py).
    auth_config: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> StackConfig:
        state_dir = Path(environ.get("DEVSTACK_DIR") or REPO_ROOT / ".devstack").resolve()
        private_dir(state_dir)
        local = LocalSecrets.load_or_create(state_dir / "secrets.json")
        runtime = environ.get("WORKER_RUNTIME") or "python"
        if runtime not in ("python", "pyodide", "wrangler"):
            raise ValueError(
                f"WORKER_RUNTIME must be 'python', 'pyodide' or 'wrangler', not {runtime!r}"
            )
        stripe_key = environ.get("STRIPE_SECRET_KEY") or None
        if stripe_key is None:
            # Two endpoints as in production: platform events and Connect events, each signed
            # with its own secret; the backend holds both.
            hooks: tuple[str, ...] = (
                environ.get("STRIPE_FAKE_WEBHOOK_SECRET") or local.webhook_secret,
                environ.get("STRIPE_FAKE_CONNECT_WEBHOOK_SECRET") or local.connect_webhook_secret,
            )
        else:
            hooks = tuple(s for s in environ.get("STRIPE_WEBHOOK_SECRETS", "").split(",") if s)
        internal_key = environ.get("INTERNAL_API_KEY") or local.internal_api_key
        if len(internal_key) < 32:
            raise ValueError("INTERNAL_API_KEY must be at least 32 characters")
        frontend_port = _port(environ, "FRONTEND_PORT", 3000)
        storage = (environ.get("BETTER_AUTH_SESSION_STORAGE") or "database").strip().lower()
        if storage not in ("database", "secondary"):
            raise ValueError("BETTER_AUTH_SESSION_STORAGE must be 'database' or 'secondary'")
        if storage == "secondary" and runtime == "wrangler":
            raise ValueError(
                "BETTER_AUTH_SESSION_STORAGE=secondary runs with WORKER_RUNTIME=python or pyodide "
                "(wrangler dev would need a [[kv_namespaces]] binding of its own)"
            )
        return cls(
            state_dir=state_dir,
            d1_path=Path(environ.get("D1_DATABASE_PATH") or state_dir / "d1.sqlite3").resolve(),
            worker_port=_port(environ, "WORKER_PORT", 8787),
            backend_port=_port(environ, "BACKEND_PORT", 8000),
            stripe_fake_port=_port(environ, "STRIPE_FAKE_PORT", 12111),
            frontend_port=frontend_port,
            worker_runtime=runtime,  # type: ignore[arg-type]  # checked just above
            better_auth_secret=environ.get("BETTER_AUTH_SECRET") or local.better_auth_secret,
            internal_api_key=internal_key,
            operator_api_key=environ.get("OPERATOR_API_KEY") or local.operator_api_key,
            platform_api_key=environ.get("PLATFORM_API_KEY") or local.platform_api_key,
            demo_password=environ.get("DEMO_PASSWORD") or local.demo_password,
            webhook_secrets=hooks,
            stripe_secret_key=stripe_key,
            stripe_api_base=environ.get("STRIPE_API_BASE") or None,
            frontend_origins=environ.get("FRONTEND_ORIGINS") or f"http://localhost:{frontend_port}",
            session_storage=storage,
            connect_account_profile=environ.get("CONNECT_ACCOUNT_PROFILE") or "express",
            stripe_publishable_key=environ.get("STRIPE_PUBLISHABLE_KEY") or None,
            otlp_port=_port(environ, "OTLP_RECEIVER_PORT", 4318)
            if environ.get("OTEL") == "1"
            else None,
            auth_config=Path(environ["AUTH_CONFIG"]).resolve()
            if environ.get("AUTH_CONFIG")
            else None,
        )

    @property
    def sessions_kv_path(self) -> Path:
        return self.state_dir / "sessions-kv.sqlite3"

    @property
    def uses_stripe_fake(self) -> bool:
        return self.stripe_secret_key is None

    @property
    def worker_url(self) -> str:
        return f"http://{HOST}:{self.worker_port}"

    @property
    def backend_url(self) -> str:
        return f"http://{HOST}:{self.backend_port}"

    @property
    def stripe_fake_url(self) -> str:
        return f"http://{HOST}:{self.stripe_fake_port}"

    @property
    def frontend_url(self) -> str:
        """The auth app's origin: the browser's address, and the origin Better Auth trusts."""
        return f"http://localhost:{self.frontend_port}"

    @property
    def otlp_url(self) -> str | None:
        return None if self.otlp_port is None else f"http://{HOST}:{self.otlp_port}"

    @property
    def wrangler_persist_dir(self) -> Path:
        """Where `wrangler dev --persist-to` keeps local D1 when WORKER_RUNTIME=wrangler."""
        return self.state_dir / "wrangler"

    @property
    def demo_state_path(self) -> Path:
        return self.state_dir / "demo.json"


@dataclass(frozen=True, kw_only=True)
class DemoState:
    """What a running `make dev` tells `make demo` (and the stack test): where, and who."""

    pid: int
    worker_url: str
    backend_url: str
    stripe_fake_url: str | None
    token: str
    organization_id: str
    user_id: str
    user_email: str
    child_pids: tuple[int, ...]
    frontend_url: str | None = None
    demo_password: str | None = None


def write_demo_state(path: Path, state: DemoState) -> None:
    _write_private(path, json.dumps(asdict(state), indent=2))


def read_demo_state(path: Path) -> DemoState:
    data = json.loads(path.read_text())
    data["child_pids"] = tuple(data["child_pids"])
    return DemoState(**data)


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name) or str(default)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{name} must be a TCP port, not {raw!r}")
    return int(raw)


def _write_private(path: Path, text: str) -> None:
    """Write atomically, readable by the owner only (the file holds secrets or a bearer token)."""
    if not path.parent.exists():
        private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    os.replace(tmp, path)
