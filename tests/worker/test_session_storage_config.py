"""Where sessions live has one source of truth: the description `make better-auth-schema`
writes (`BETTER_AUTH_SCHEMA`); `BETTER_AUTH_SESSION_STORAGE` may repeat it, never contradict it,
and alone says it for Better Auth's default names."""

from __future__ import annotations

import json

import pytest
from connect_worker.auth_schema import DEFAULT, sessions_in_kv
from connect_worker.config import ConfigError, load_config

BASE = {"INTERNAL_API_KEYS": "v1:" + "k" * 40, "BETTER_AUTH_SECRET": "s" * 40}
IN_KV = json.dumps(sessions_in_kv(DEFAULT).describe())
IN_D1 = json.dumps(DEFAULT.describe())


def test_without_either_setting_sessions_are_read_from_d1() -> None:
    config = load_config(BASE)
    assert (config.session_storage, config.auth_schema.session_storage) == ("database", "database")


def test_the_setting_alone_means_default_names_with_no_session_table_to_check() -> None:
    config = load_config({**BASE, "BETTER_AUTH_SESSION_STORAGE": "secondary"})
    assert config.session_storage == "secondary"
    assert config.auth_schema.session_storage == "secondary"
    assert config.auth_schema.tables["session"] is None
    assert config.auth_schema.table("organization") == "organization"


def test_the_description_alone_decides_where_sessions_live() -> None:
    config = load_config({**BASE, "BETTER_AUTH_SCHEMA": IN_KV})
    assert config.session_storage == "secondary"


@pytest.mark.parametrize(("description", "setting"), [(IN_KV, "secondary"), (IN_D1, "database")])
def test_the_setting_may_repeat_the_description(description: str, setting: str) -> None:
    config = load_config(
        {**BASE, "BETTER_AUTH_SCHEMA": description, "BETTER_AUTH_SESSION_STORAGE": setting}
    )
    assert config.session_storage == setting


@pytest.mark.parametrize(("description", "setting"), [(IN_KV, "database"), (IN_D1, "secondary")])
def test_a_setting_that_contradicts_the_description_stops_the_worker(
    description: str, setting: str
) -> None:
    with pytest.raises(ConfigError, match="BETTER_AUTH_SCHEMA says sessions live in"):
        load_config(
            {**BASE, "BETTER_AUTH_SCHEMA": description, "BETTER_AUTH_SESSION_STORAGE": setting}
        )
