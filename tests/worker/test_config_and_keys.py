from __future__ import annotations

import logging

import pytest
from connect_worker.api_keys import match_key, presented_key
from connect_worker.config import ConfigError, load_config, parse_api_keys

from tests.worker.conftest import API_KEY, OLD_API_KEY, Core, make_core

SECRET = "s" * 32


def test_versioned_keys_parse_in_order() -> None:
    keys = parse_api_keys(f"v2:{'a' * 32}, v1:{'b' * 40}")
    assert [(k.version, len(k.key)) for k in keys] == [("v2", 32), ("v1", 40)]
    assert "a" * 32 not in repr(keys)


@pytest.mark.parametrize(
    "value",
    ["", " , ", f"v1:{'a' * 31}", f"v2:{'a' * 40},v1:short", f"v1:{'a' * 40},v1:{'b' * 40}"],
)
def test_short_duplicate_or_missing_keys_are_refused_at_startup(value: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config({"INTERNAL_API_KEYS": value, "BETTER_AUTH_SECRET": SECRET})
    assert "a" * 31 not in str(excinfo.value)


@pytest.mark.parametrize(
    "env",
    [
        {"BETTER_AUTH_SECRET": "short"},
        {"BETTER_AUTH_REQUIRE_SIGNED_TOKENS": "maybe"},
        {"WEBHOOK_EVENT_RETENTION_DAYS": "3"},
        {"WEBHOOK_EVENT_RETENTION_DAYS": "4.5"},
        {"PLATFORM_FEE_MAX_PERCENT": "150"},
        {"PLATFORM_FEE_MIN_PERCENT": "20", "PLATFORM_FEE_MAX_PERCENT": "10"},
    ],
)
def test_bad_settings_are_refused_at_startup(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_config({"INTERNAL_API_KEYS": f"v1:{'a' * 32}", "BETTER_AUTH_SECRET": SECRET, **env})


def test_either_header_form_presents_the_key() -> None:
    assert presented_key({"x-api-key": "abc"}) == "abc"
    assert presented_key({"authorization": "Bearer abc"}) == "abc"
    assert presented_key({"authorization": "bearer  abc "}) == "abc"
    assert presented_key({"authorization": "Basic abc"}) is None
    assert presented_key({}) is None


def test_match_returns_the_version_of_whichever_key_matches() -> None:
    keys = parse_api_keys(f"v2:{'a' * 32},v1:{'b' * 32}")
    assert match_key("a" * 32, keys) == "v2"
    assert match_key("b" * 32, keys) == "v1"
    assert match_key("a" * 31, keys) is None
    assert match_key("", keys) is None
    assert match_key(None, keys) is None


async def _health(core: Core, key: str | None) -> int:
    status, _ = await core.call("GET", "/api/internal/health", key=key)
    return status


async def test_rotation_old_and_new_keys_work_until_the_old_one_is_removed(
    fresh_core: Core,
) -> None:
    assert await _health(fresh_core, API_KEY) == 200
    assert await _health(fresh_core, OLD_API_KEY) == 200
    rotated = make_core(fresh_core.db_path, fresh_core.clock, INTERNAL_API_KEYS=f"v2:{API_KEY}")
    assert await _health(rotated, API_KEY) == 200
    assert await _health(rotated, OLD_API_KEY) == 401
    rotated.db.close()


async def test_failed_auth_logs_unknown_version_never_the_key(
    fresh_core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "w" * 40
    with caplog.at_level(logging.WARNING, logger="connect_worker"):
        status, body = await fresh_core.call("GET", "/api/internal/health", key=wrong)
    assert status == 401
    assert body == {"error": {"code": "unauthorized", "message": "A valid API key is required."}}
    assert "key_version=unknown" in caplog.text
    assert wrong not in caplog.text
    assert API_KEY not in caplog.text


async def test_unauthenticated_requests_learn_nothing_about_routes(fresh_core: Core) -> None:
    for method, path in [("GET", "/nope"), ("DELETE", "/api/internal/health")]:
        status, _ = await fresh_core.call(method, path, key=None)
        assert status == 401


async def test_accepted_calls_log_the_key_version_at_debug(
    fresh_core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="connect_worker"):
        assert await _health(fresh_core, OLD_API_KEY) == 200
    assert "key_version=v1" in caplog.text
    assert OLD_API_KEY not in caplog.text
