"""`make dev AUTH_CONFIG=path/to/auth.mjs`: the local stack over a platform's own Better Auth
config instead of Better Auth's defaults.

The local D1 is made as the platform's would be: Better Auth's migrator creates its tables under
the config's names and the library writes the demo identity (`auth_app/platform_demo.mjs`); our
migrations rendered for the config's description follow; the Worker gets the description as
`BETTER_AUTH_SCHEMA` and the auth app the config itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from connect_worker.auth_schema import parse

from devstack.better_auth_schema import apply_for
from devstack.processes import StackError
from devstack.seed_demo import DemoIdentity
from devstack.stack_config import REPO_ROOT, StackConfig

__all__ = ["described", "prepare_platform_database"]

AUTH_APP_DIR = REPO_ROOT / "auth_app"


def _node(args: list[str], env: dict[str, str]) -> str:
    node = shutil.which("node")
    if node is None:
        raise StackError("AUTH_CONFIG needs Node 20+ on PATH")
    done = subprocess.run(
        [node, *args],
        cwd=AUTH_APP_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        raise StackError(f"auth_app/{args[0]} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def _schema_file(config: StackConfig) -> Path:
    return config.state_dir / "better_auth_schema.json"


def described(config: StackConfig) -> str:
    """The description `prepare_platform_database` wrote (BETTER_AUTH_SCHEMA for the Worker)."""
    return _schema_file(config).read_text().strip()


def prepare_platform_database(config: StackConfig, *, say: Callable[[str], None]) -> DemoIdentity:
    assert config.auth_config is not None
    if config.worker_runtime == "wrangler":
        raise StackError("AUTH_CONFIG works with WORKER_RUNTIME=python or pyodide")
    path, module = config.d1_path, str(config.auth_config)
    description = _node(["describe_schema.mjs", module], {}).strip()
    _schema_file(config).write_text(description + "\n")
    found = json.loads(
        _node(
            ["platform_demo.mjs", module],
            {
                "AUTH_DB": str(path),
                "BETTER_AUTH_SECRET": config.better_auth_secret,
                "BETTER_AUTH_URL": config.frontend_url,
                "DEMO_PASSWORD": config.demo_password,
            },
        )
    )
    applied = apply_for(path, parse(description))
    done = f"applied {', '.join(applied)}" if applied else "migrations up to date"
    say(f"D1 {path} ({config.auth_config.name}): {done}")
    return DemoIdentity(**found)
