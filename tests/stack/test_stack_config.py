"""`make dev`'s configuration: local defaults with no accounts, every value overridable by env."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from devstack.parts import STRIPE_FAKE_API_KEY, part_specs
from devstack.stack_config import StackConfig


def test_defaults_need_no_stripe_key_and_no_cloudflare_account(tmp_path: Path) -> None:
    config = StackConfig.from_env({"DEVSTACK_DIR": str(tmp_path)})

    assert (config.worker_port, config.backend_port, config.stripe_fake_port) == (8787, 8000, 12111)
    assert config.d1_path == tmp_path / "d1.sqlite3"
    assert config.worker_runtime == "python"
    assert config.uses_stripe_fake
    assert len(config.internal_api_key) >= 32
    assert len(config.better_auth_secret) >= 32
    assert [s[:6] for s in config.webhook_secrets] == ["whsec_", "whsec_"]
    assert config.webhook_secrets[0] != config.webhook_secrets[1]
    # The auth app serves the frontend on the origin the backend allows, and the demo user can
    # sign in there with a generated password.
    assert config.frontend_url == "http://localhost:3000"
    assert config.frontend_origins == "http://localhost:3000"
    assert len(config.demo_password) >= 16


def test_the_frontend_port_moves_the_allowed_origin_unless_origins_are_given(
    tmp_path: Path,
) -> None:
    moved = StackConfig.from_env({"DEVSTACK_DIR": str(tmp_path), "FRONTEND_PORT": "3100"})
    assert moved.frontend_url == "http://localhost:3100"
    assert moved.frontend_origins == "http://localhost:3100"
    auth_app = part_specs(moved)[-1]
    assert auth_app.name == "auth-app"
    assert auth_app.env["FRONTEND_PORT"] == "3100"
    assert auth_app.env["BETTER_AUTH_URL"] == "http://localhost:3100"
    given = StackConfig.from_env(
        {"DEVSTACK_DIR": str(tmp_path), "FRONTEND_ORIGINS": "https://app.example.com"}
    )
    assert given.frontend_origins == "https://app.example.com"


def test_local_secrets_are_made_once_and_readable_only_by_the_owner(tmp_path: Path) -> None:
    first = StackConfig.from_env({"DEVSTACK_DIR": str(tmp_path)})
    second = StackConfig.from_env({"DEVSTACK_DIR": str(tmp_path)})

    assert second.internal_api_key == first.internal_api_key
    assert second.better_auth_secret == first.better_auth_secret
    assert second.webhook_secrets == first.webhook_secrets
    assert second.demo_password == first.demo_password
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600
    other = StackConfig.from_env({"DEVSTACK_DIR": str(tmp_path / "elsewhere")})
    assert other.internal_api_key != first.internal_api_key


def test_environment_overrides_ports_paths_and_secrets(tmp_path: Path) -> None:
    config = StackConfig.from_env(
        {
            "DEVSTACK_DIR": str(tmp_path),
            "D1_DATABASE_PATH": str(tmp_path / "other.sqlite3"),
            "WORKER_PORT": "9001",
            "BACKEND_PORT": "9002",
            "STRIPE_FAKE_PORT": "9003",
            "BETTER_AUTH_SECRET": "b" * 40,
            "INTERNAL_API_KEY": "k" * 40,
            "STRIPE_FAKE_WEBHOOK_SECRET": "whsec_platform",
            "FRONTEND_ORIGINS": "http://localhost:5173",
        }
    )
    assert config.d1_path == tmp_path / "other.sqlite3"
    assert config.worker_url == "http://127.0.0.1:9001"
    assert config.backend_url == "http://127.0.0.1:9002"
    assert config.stripe_fake_url == "http://127.0.0.1:9003"
    assert config.better_auth_secret == "b" * 40
    assert config.internal_api_key == "k" * 40
    assert config.webhook_secrets[0] == "whsec_platform"

    worker, fake, backend, auth_app = part_specs(config)
    assert worker.env["INTERNAL_API_KEYS"] == "dev:" + "k" * 40
    assert worker.env["D1_DATABASE_PATH"] == str(tmp_path / "other.sqlite3")
    assert worker.env["WORKER_PORT"] == "9001"
    assert backend.env["INTERNAL_API_KEY"] == "k" * 40
    assert backend.env["WORKER_URL"] == "http://127.0.0.1:9001"
    assert backend.env["FRONTEND_ORIGINS"] == "http://localhost:5173"
    assert backend.env["STRIPE_API_BASE"] == "http://127.0.0.1:9003"
    assert backend.env["STRIPE_SECRET_KEY"] == fake.env["STRIPE_FAKE_API_KEYS"]
    assert backend.env["STRIPE_WEBHOOK_SECRETS"] == ",".join(config.webhook_secrets)
    assert fake.env["STRIPE_FAKE_WEBHOOK_URL"] == "http://127.0.0.1:9002/api/connect/webhook"
    assert fake.env["STRIPE_FAKE_WEBHOOK_SECRET"] == "whsec_platform"
    assert fake.env["STRIPE_FAKE_CONNECT_WEBHOOK_SECRET"] == config.webhook_secrets[1]
    # The auth app: real Better Auth on the Worker's own D1 file, signing with the Worker's secret.
    assert auth_app.env["D1_DATABASE_PATH"] == str(tmp_path / "other.sqlite3")
    assert auth_app.env["BETTER_AUTH_SECRET"] == "b" * 40
    assert auth_app.env["BACKEND_URL"] == "http://127.0.0.1:9002"


def test_a_real_stripe_key_means_no_fake_and_the_given_webhook_secrets(tmp_path: Path) -> None:
    config = StackConfig.from_env(
        {
            "DEVSTACK_DIR": str(tmp_path),
            "STRIPE_SECRET_KEY": "sk_test_real",
            "STRIPE_WEBHOOK_SECRETS": "whsec_a,whsec_b",
        }
    )
    assert not config.uses_stripe_fake
    specs = part_specs(config)
    assert [s.name for s in specs] == ["worker", "backend", "auth-app"]
    backend = specs[1]
    assert backend.env["STRIPE_SECRET_KEY"] == "sk_test_real"
    assert backend.env["STRIPE_API_BASE"] == ""
    assert backend.env["STRIPE_WEBHOOK_SECRETS"] == "whsec_a,whsec_b"
    assert STRIPE_FAKE_API_KEY not in backend.env.values()


def test_wrangler_runtime_runs_wrangler_dev_on_the_same_port_with_local_d1(
    tmp_path: Path,
) -> None:
    config = StackConfig.from_env(
        {"DEVSTACK_DIR": str(tmp_path), "WORKER_RUNTIME": "wrangler", "WORKER_PORT": "9100"}
    )
    worker = part_specs(config)[0]
    argv = list(worker.argv)
    assert argv[:3] == ["npx", "wrangler", "dev"]
    assert argv[argv.index("--port") + 1] == "9100"
    assert argv[argv.index("--ip") + 1] == "127.0.0.1"
    assert argv[argv.index("--persist-to") + 1] == str(tmp_path / "wrangler")
    env_file = Path(argv[argv.index("--env-file") + 1])
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert f'INTERNAL_API_KEYS="dev:{config.internal_api_key}"' in env_file.read_text()
    assert config.internal_api_key not in " ".join(argv)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WORKER_PORT", "http", "WORKER_PORT must be a TCP port"),
        ("BACKEND_PORT", "70000", "BACKEND_PORT must be a TCP port"),
        ("WORKER_RUNTIME", "node", "WORKER_RUNTIME must be 'python', 'pyodide' or 'wrangler'"),
        ("INTERNAL_API_KEY", "short", "at least 32 characters"),
    ],
)
def test_bad_settings_are_refused_with_the_variable_named(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        StackConfig.from_env({"DEVSTACK_DIR": str(tmp_path), name: value})


def test_otel_1_starts_a_local_otlp_receiver_first_and_points_the_backend_at_it(
    tmp_path: Path,
) -> None:
    plain = StackConfig.from_env({"DEVSTACK_DIR": str(tmp_path)})
    assert plain.otlp_url is None
    assert "otlp" not in [spec.name for spec in part_specs(plain)]
    backend = next(spec for spec in part_specs(plain) if spec.name == "backend")
    # (only what the caller's own environment says, if anything)
    endpoint = backend.env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    assert endpoint == os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")

    config = StackConfig.from_env(
        {"DEVSTACK_DIR": str(tmp_path), "OTEL": "1", "OTLP_RECEIVER_PORT": "4399"}
    )
    specs = part_specs(config)
    assert specs[0].name == "otlp"
    assert specs[0].env["OTLP_RECEIVER_PORT"] == "4399"
    backend = next(spec for spec in specs if spec.name == "backend")
    assert backend.env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4399"
