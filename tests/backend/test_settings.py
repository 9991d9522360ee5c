from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.core.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
KEY = "k" * 40
VALID = {
    "STRIPE_SECRET_KEY": "sk_test_123456",
    "STRIPE_WEBHOOK_SECRETS": "whsec_platform, whsec_connect,whsec_old",
    "WORKER_URL": "https://connect-worker.example.workers.dev/",
    "INTERNAL_API_KEY": KEY,
    "FRONTEND_ORIGINS": "https://App.Example.com, http://localhost:5173",
}


def problems(**overrides: str) -> list[str]:
    env = {k: v for k, v in {**VALID, **overrides}.items() if v != "<unset>"}
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    return info.value.problems


def test_valid_environment_parses_lists_and_defaults() -> None:
    settings = load_settings(VALID)
    assert settings.webhook_secrets == ("whsec_platform", "whsec_connect", "whsec_old")
    assert settings.frontend_origins == ("https://app.example.com", "http://localhost:5173")
    assert settings.worker_url == "https://connect-worker.example.workers.dev"
    assert settings.stripe_api_base is None  # unset means real Stripe
    assert settings.backend_host == "127.0.0.1"
    assert settings.stripe_webhook_tolerance_seconds == 300
    assert settings.user_context_cache_ttl_seconds == 0
    assert settings.operator_api_key is None
    assert settings.platform_api_key is None
    assert (settings.http_max_header_bytes, settings.http_write_timeout_seconds) == (32768, 30.0)
    assert settings.min_transfer("usd") == 50
    assert settings.min_transfer("gbp") == 30
    assert settings.min_transfer("sek") == 1


def test_limits_are_on_by_default_and_cursors_sealed_with_a_key_of_their_own() -> None:
    """The production defaults docs/rate-limits.md sizes; the cursor key derives one-way from the
    internal API key unless HISTORY_CURSOR_SECRET is set."""
    settings = load_settings(VALID)
    assert settings.onboarding_requires_verified_email is True
    assert (settings.rate_limit_user_per_minute, settings.rate_limit_user_burst) == (30, 10)
    assert (
        settings.rate_limit_organization_per_minute,
        settings.rate_limit_organization_burst,
    ) == (60, 20)
    assert (settings.stripe_user_budget_per_second, settings.stripe_user_budget_burst) == (10, 20)
    assert (settings.rate_limit_address_per_minute, settings.rate_limit_address_burst) == (120, 30)
    assert settings.history_cursor_root == KEY.encode()
    sealed = load_settings({**VALID, "HISTORY_CURSOR_SECRET": "c" * 32})
    assert sealed.history_cursor_root == b"c" * 32


def test_transfer_minimums_and_the_platform_key_come_from_the_environment() -> None:
    settings = load_settings(
        {**VALID, "MIN_TRANSFER_AMOUNTS": " USD:500 , jpy:100", "PLATFORM_API_KEY": "p" * 32}
    )
    assert settings.min_transfer_amounts == {"usd": 500, "jpy": 100}
    assert settings.min_transfer("eur") == 1  # not listed: anything above zero
    assert settings.platform_api_key is not None
    assert settings.platform_api_key.get_secret_value() == "p" * 32


def test_every_missing_variable_is_named_on_its_own_line() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({})
    assert info.value.problems == [
        "STRIPE_SECRET_KEY: missing (required)",
        "STRIPE_WEBHOOK_SECRETS: missing (required)",
        "WORKER_URL: missing (required)",
        "INTERNAL_API_KEY: missing (required)",
        "FRONTEND_ORIGINS: missing (required)",
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WORKER_URL", "http://connect-worker.example.com"),
        ("WORKER_URL", "http://10.0.0.5:8787"),
        ("WORKER_URL", "ftp://worker"),
        ("WORKER_URL", "https://user:pw@worker.example.com"),
        ("STRIPE_WEBHOOK_SECRETS", "not-a-secret"),
        ("STRIPE_WEBHOOK_SECRETS", " , "),
        ("STRIPE_SECRET_KEY", "pk_test_publishable"),
        ("INTERNAL_API_KEY", "short-key"),
        ("FRONTEND_ORIGINS", "https://app.example.com/path"),
        ("FRONTEND_ORIGINS", "frontend-without-scheme"),
        ("BACKEND_PORT", "eighty"),
        ("BACKEND_PORT", "70000"),
        ("STRIPE_API_BASE", "http://stripe-fake.internal:12111"),
        ("OPERATOR_API_KEY", "short"),
        ("PLATFORM_API_KEY", "short-platform-key"),
        ("MIN_TRANSFER_AMOUNTS", "usd=50"),
        ("MIN_TRANSFER_AMOUNTS", "usd:-5"),
        ("MIN_TRANSFER_AMOUNTS", "usd:0"),
        ("MIN_TRANSFER_AMOUNTS", "dollars:50"),
        ("HISTORY_CURSOR_SECRET", "short-cursor-secret"),
        ("RATE_LIMIT_USER_PER_MINUTE", "-1"),
        ("RATE_LIMIT_USER_BURST", "0"),
        ("STRIPE_USER_BUDGET_PER_SECOND", "lots"),
        ("RATE_LIMIT_MAX_KEYS", "5"),
        ("ONBOARDING_REQUIRES_VERIFIED_EMAIL", "perhaps"),
        ("HTTP_MAX_HEADER_BYTES", "100"),
        ("HTTP_MAX_HEADER_BYTES", "999999999"),
        ("HTTP_WRITE_TIMEOUT_SECONDS", "-1"),
    ],
)
def test_malformed_values_are_refused_without_echoing_them(name: str, value: str) -> None:
    found = problems(**{name: value})
    assert len(found) == 1
    assert found[0].startswith(f"{name}: ")
    assert value.strip() not in found[0] or value.strip() == ""


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8787", "http://localhost:8787", "http://[::1]:1"]
)
def test_plain_http_worker_is_allowed_on_loopback_only(url: str) -> None:
    assert load_settings({**VALID, "WORKER_URL": url}).worker_url == url


def test_python_m_backend_refuses_to_start_with_a_clear_message() -> None:
    env = {k: v for k, v in os.environ.items() if k not in VALID}
    env.update({**VALID, "WORKER_URL": "http://worker.example.com", "INTERNAL_API_KEY": "tiny"})
    env.pop("STRIPE_SECRET_KEY")
    done = subprocess.run(
        [sys.executable, "-m", "backend"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "STRIPE_SECRET_KEY: missing (required)" in done.stderr
    assert "WORKER_URL: must be https://" in done.stderr
    assert "INTERNAL_API_KEY: must be at least 32 characters" in done.stderr
    assert "tiny" not in done.stderr
    assert "Traceback" not in done.stderr


def test_uvicorn_import_string_fails_startup_with_the_same_clear_message() -> None:
    env = {k: v for k, v in os.environ.items() if k not in VALID}
    env.update({**VALID, "WORKER_URL": "http://worker.example.com"})
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "backend.app:app", "--port", "0", "--lifespan", "on"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "WORKER_URL: must be https://" in done.stderr


def test_the_account_profile_and_onboarding_collection_are_settings() -> None:
    settings = load_settings(VALID)
    assert (settings.connect_account_profile, settings.connect_collection_fields) == (
        "express",
        "eventually_due",
    )
    chosen = load_settings(
        {
            **VALID,
            "CONNECT_ACCOUNT_PROFILE": " Custom ",
            "CONNECT_COLLECTION_FIELDS": "currently_due",
        }
    )
    assert (chosen.connect_account_profile, chosen.connect_collection_fields) == (
        "custom",
        "currently_due",
    )


def test_an_unknown_profile_or_collection_choice_is_refused_at_startup() -> None:
    found = problems(CONNECT_ACCOUNT_PROFILE="standardish", CONNECT_COLLECTION_FIELDS="whatever")
    assert found == [
        "CONNECT_ACCOUNT_PROFILE: Input should be 'express' or 'custom'",
        "CONNECT_COLLECTION_FIELDS: Input should be 'currently_due' or 'eventually_due'",
    ]
