"""`make better-auth-schema`: the description Better Auth's own code gives of a config, where it
is written, the migrations rendered for it, and what the Worker does with a wrong one."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from connect_worker.auth_schema import DEFAULT, SchemaDescriptionError, parse
from connect_worker.config import ConfigError, load_config

from devstack.better_auth_schema import render_migrations
from devstack.migrate import MIGRATIONS_DIR
from tests.fixtures.platform_auth import AUTH_APP, PlatformAuth, describe
from tests.fixtures.worker import ShiftableClock
from tests.worker.conftest import REPO, make_core

WRANGLER = REPO / "worker" / "wrangler.toml"
Factory = Callable[[str], PlatformAuth]


def _configured() -> dict[str, Any]:
    raw = tomllib.loads(WRANGLER.read_text())["vars"]["BETTER_AUTH_SCHEMA"]
    data: dict[str, Any] = json.loads(raw)
    return data


def test_the_generator_reproduces_the_committed_default_description() -> None:
    generated = json.loads(describe(AUTH_APP / "configs" / "default.mjs"))
    assert generated == _configured() == DEFAULT.describe()
    assert parse(json.dumps(generated)).is_default


def test_the_committed_migrations_are_the_rendering_for_better_auths_defaults() -> None:
    rendered = render_migrations(DEFAULT)
    committed = {p.name: p.read_text() for p in sorted(MIGRATIONS_DIR.glob("*.sql"))}
    assert rendered == committed


def test_renamed_models_and_fields_come_from_better_auth() -> None:
    described = json.loads(describe(AUTH_APP / "configs" / "plural_snake.mjs"))
    tables = described["tables"]
    assert tables["user"] == {
        "table": "users",
        "columns": {
            "id": "id",
            "name": "full_name",
            "email": "email",
            "emailVerified": "email_verified",
            "image": "avatar_url",
        },
    }
    assert tables["session"]["table"] == "sessions"
    assert tables["session"]["columns"]["token"] == "session_token"
    assert tables["session"]["columns"]["activeOrganizationId"] == "active_organization_id"
    assert tables["organization"]["table"] == "organizations"
    assert tables["member"]["columns"]["organizationId"] == "organization_id"
    assert tables["jwks"] == {
        "table": "jwt_keys",
        "columns": {"id": "id", "publicKey": "public_key", "alg": "alg"},
    }


def test_the_adapters_use_plural_is_applied_as_the_adapter_applies_it() -> None:
    described = json.loads(describe(AUTH_APP / "configs" / "use_plural.mjs"))
    names = {model: t["table"] for model, t in described["tables"].items()}
    assert names == {
        "user": "users",
        "session": "sessions",
        "organization": "organizations",
        "member": "members",
        "jwks": "jwkss",  # Better Auth's own rule: the model name plus "s"
    }


def test_sessions_in_secondary_storage_are_described_without_a_session_table() -> None:
    described = json.loads(describe(AUTH_APP / "configs" / "kv_sessions.mjs"))
    assert described["session_storage"] == "secondary"
    assert described["tables"]["session"] is None
    schema = parse(json.dumps(described))
    assert [model for model, _ in schema.probes()] == ["user", "organization", "member", "jwks"]


def _render(description: str, toml: Path, out: Path) -> None:
    """`make better-auth-schema`'s own command: `description` into `toml`, migrations into `out`."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "devstack.better_auth_schema"),
            *("--wrangler", str(toml), "--migrations-out", str(out)),
        ],
        input=description,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": f"{REPO}:{REPO / 'worker' / 'src'}"},
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_command_writes_wrangler_toml_and_renders_the_migrations(tmp_path: Path) -> None:
    toml = tmp_path / "wrangler.toml"
    shutil.copy(WRANGLER, toml)
    out = tmp_path / "migrations"
    description = describe(AUTH_APP / "configs" / "plural_snake.mjs")
    _render(description, toml, out)
    written = tomllib.loads(toml.read_text())
    assert json.loads(written["vars"]["BETTER_AUTH_SCHEMA"]) == json.loads(description)
    # Everything else in wrangler.toml is left as it was.
    original = tomllib.loads(WRANGLER.read_text())
    written["vars"].pop("BETTER_AUTH_SCHEMA")
    original["vars"].pop("BETTER_AUTH_SCHEMA")
    assert written == original
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in MIGRATIONS_DIR.glob("*.sql")
    )
    connect = (out / "0002_connect.sql").read_text()
    assert 'ALTER TABLE "organizations" ADD COLUMN' in connect
    assert '"organization"' not in connect


def test_the_command_for_a_config_without_jwt_writes_and_renders_no_jwks(tmp_path: Path) -> None:
    toml = tmp_path / "wrangler.toml"
    shutil.copy(WRANGLER, toml)
    out = tmp_path / "migrations"
    _render(describe(AUTH_APP / "configs" / "no_jwt.mjs"), toml, out)
    written = tomllib.loads(toml.read_text())["vars"]["BETTER_AUTH_SCHEMA"]
    assert "jwks" not in json.loads(written)["tables"]
    config = load_config(
        {
            "INTERNAL_API_KEYS": "k" * 40,
            "BETTER_AUTH_SECRET": "s" * 40,
            "BETTER_AUTH_SCHEMA": written,
        }
    )
    assert not config.auth_schema.has_jwt_keys
    assert not [p.name for p in out.iterdir() if "jwks" in p.read_text()]


@pytest.mark.parametrize(
    "bad",
    ['users"; DROP TABLE x; --', "users name", "", "1users", "a" * 80],
)
def test_a_description_with_a_name_that_is_not_a_plain_identifier_is_refused(bad: str) -> None:
    description = DEFAULT.describe()
    description["tables"]["user"]["table"] = bad
    with pytest.raises(ConfigError, match="plain SQL identifier"):
        load_config(
            {
                "INTERNAL_API_KEYS": "k" * 40,
                "BETTER_AUTH_SECRET": "s" * 40,
                "BETTER_AUTH_SCHEMA": json.dumps(description),
            }
        )


def _described(**changes: tuple[str, str | None, str | None]) -> str:
    """Better Auth's defaults with `model=(table, field, column)` changed."""
    description = DEFAULT.describe()
    for model, (table, field, column) in changes.items():
        if table is not None:
            description["tables"][model]["table"] = table
        if field is not None:
            description["tables"][model]["columns"][field] = column
    return json.dumps(description)


@pytest.mark.parametrize(
    ("description", "named"),
    [
        (_described(organization=("organizations", None, None)), "organizations"),
        (_described(session=("session", "expiresAt", "expires_at")), "session.expires_at"),
    ],
    ids=["table_missing", "column_missing"],
)
async def test_a_name_d1_lacks_is_a_503_with_its_own_code_and_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, description: str, named: str
) -> None:
    from devstack.migrate import apply_migrations

    path = tmp_path / "d1.sqlite3"
    apply_migrations(path)
    core = make_core(path, ShiftableClock(), BETTER_AUTH_SCHEMA=description)
    try:
        with caplog.at_level(logging.ERROR, logger="connect_worker"):
            for method, route, body in (
                ("POST", "verify-user-context", {"token": "t" * 32}),
                ("GET", "organization/x", None),
                ("GET", "health", None),
            ):
                status, reply = await core.call(method, f"/api/internal/{route}", body)
                assert status == 503, (route, reply)
                assert reply["error"]["code"] == "better_auth_schema_mismatch"
                assert named in reply["error"]["message"]
        logged = [r.getMessage() for r in caplog.records]
        assert any("better auth schema mismatch" in m and named in m for m in logged), logged
        with closing(sqlite3.connect(path)) as conn:  # nothing was written
            assert conn.execute("SELECT count(*) FROM organization").fetchone() == (0,)
    finally:
        core.db.close()


async def test_once_d1_has_the_names_the_worker_answers_without_a_restart(tmp_path: Path) -> None:
    from devstack.migrate import apply_migrations

    path = tmp_path / "d1.sqlite3"
    apply_migrations(path)
    description = _described(jwks=("jwt_keys", None, None))
    core = make_core(path, ShiftableClock(), BETTER_AUTH_SCHEMA=description)
    try:
        assert (await core.call("GET", "/api/internal/health"))[0] == 503
        with closing(sqlite3.connect(path)) as conn:
            conn.execute('ALTER TABLE "jwks" RENAME TO "jwt_keys"')
            conn.commit()
        assert await core.call("GET", "/api/internal/health") == (200, {"ok": True})
    finally:
        core.db.close()


def test_without_the_jwt_plugin_better_auth_describes_no_jwks_and_the_guard_never_names_it() -> (
    None
):
    described = json.loads(describe(AUTH_APP / "configs" / "no_jwt.mjs"))
    assert sorted(described["tables"]) == ["member", "organization", "session", "user"]
    schema = parse(json.dumps(described))
    assert not schema.has_jwt_keys
    assert schema.is_default
    assert not schema.complete
    assert [model for model, _ in schema.probes()] == ["user", "session", "organization", "member"]
    assert schema.describe() == described
    rendered = render_migrations(schema)
    assert "jwks" not in "".join(rendered.values())
    committed = {p.name: p.read_text() for p in sorted(MIGRATIONS_DIR.glob("*.sql"))}
    assert {n: t for n, t in rendered.items() if n != "0001_better_auth.sql"} == {
        n: t for n, t in committed.items() if n != "0001_better_auth.sql"
    }


@pytest.mark.parametrize("absent", ["missing", "null"])
def test_a_description_without_jwks_is_accepted_and_keeps_the_other_four_required(
    absent: str,
) -> None:
    description = DEFAULT.describe()
    if absent == "missing":
        del description["tables"]["jwks"]
    else:
        description["tables"]["jwks"] = None
    schema = parse(json.dumps(description))
    assert not schema.has_jwt_keys
    assert "jwks" not in schema.tables
    assert DEFAULT.has_jwt_keys
    assert DEFAULT.complete
    for model in ("user", "session", "organization", "member"):
        lacking = json.loads(json.dumps(description))
        del lacking["tables"][model]
        with pytest.raises(SchemaDescriptionError, match=f"tables.{model}"):
            parse(json.dumps(lacking))


def test_a_statement_naming_jwks_cannot_be_rendered_without_it() -> None:
    description = _described(user=("users", None, None))
    without = json.loads(description)
    del without["tables"]["jwks"]
    schema = parse(json.dumps(without))
    assert schema.render('SELECT "user"."id" FROM "user"') == 'SELECT "users"."id" FROM "users"'
    with pytest.raises(SchemaDescriptionError, match="no table for 'jwks'"):
        schema.render('SELECT "jwks"."id" FROM "jwks"')
