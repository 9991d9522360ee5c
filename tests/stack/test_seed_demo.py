"""The demo identity: Better Auth's real token format, created once and reused after."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from connect_worker.session_tokens import parse_session_token

from devstack.migrate import apply_migrations
from devstack.parts import prepare_database
from devstack.passwords import verify_password
from devstack.seed_demo import seed_demo
from devstack.stack_config import StackConfig
from tests.fixtures.migrations import MIGRATIONS

SECRET = "s" * 40


def _db(tmp_path: Path) -> Path:
    path = tmp_path / "d1.sqlite3"
    apply_migrations(path)
    return path


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def test_the_token_is_better_auths_signed_session_token(tmp_path: Path) -> None:
    path = _db(tmp_path)
    identity = seed_demo(path, secret=SECRET)

    parsed = parse_session_token(identity.token, secret=SECRET, require_signed=True)
    assert parsed is not None
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            'SELECT "userId", "activeOrganizationId" FROM "session" WHERE "token" = ?',
            (identity.token.split(".")[0],),
        ).fetchone()
        role = conn.execute(
            'SELECT "role" FROM "member" WHERE "userId" = ? AND "organizationId" = ?',
            (identity.user_id, identity.organization_id),
        ).fetchone()
    assert row == (identity.user_id, identity.organization_id)
    assert role == ("owner",)
    assert parse_session_token(identity.token, secret="x" * 40, require_signed=True) is None


def test_seeding_again_reuses_user_org_and_session(tmp_path: Path) -> None:
    path = _db(tmp_path)
    first = seed_demo(path, secret=SECRET)
    second = seed_demo(path, secret=SECRET)

    assert first.created
    assert not second.created
    assert (second.user_id, second.organization_id, second.session_id, second.token) == (
        first.user_id,
        first.organization_id,
        first.session_id,
        first.token,
    )
    assert [_count(path, t) for t in ("user", "organization", "member", "session")] == [1, 1, 1, 1]


def test_a_new_secret_re_signs_the_same_session(tmp_path: Path) -> None:
    path = _db(tmp_path)
    first = seed_demo(path, secret=SECRET)
    second = seed_demo(path, secret="t" * 40)
    assert second.session_id == first.session_id
    assert second.token.split(".")[0] == first.token.split(".")[0]
    assert parse_session_token(second.token, secret="t" * 40, require_signed=True) is not None


def test_a_session_about_to_expire_is_replaced(tmp_path: Path) -> None:
    path = _db(tmp_path)
    eight_days_ago = time.time() - 8 * 24 * 3600
    old = seed_demo(path, secret=SECRET, now=eight_days_ago)
    new = seed_demo(path, secret=SECRET)
    assert new.organization_id == old.organization_id
    assert new.session_id != old.session_id
    assert new.created


def test_wrangler_runtime_migrates_with_wrangler_and_seeds_its_local_d1(tmp_path: Path) -> None:
    """The part of `make dev WORKER_RUNTIME=wrangler` that runs offline: D1 via wrangler itself."""
    config = StackConfig.from_env({"DEVSTACK_DIR": str(tmp_path), "WORKER_RUNTIME": "wrangler"})
    said: list[str] = []

    identity = prepare_database(config, say=said.append)
    again = prepare_database(config, say=said.append)

    files = [
        p for p in (tmp_path / "wrangler").glob("v3/d1/*/*.sqlite") if p.name != "metadata.sqlite"
    ]
    assert len(files) == 1
    with sqlite3.connect(files[0]) as conn:
        migrations = [r[0] for r in conn.execute("SELECT name FROM d1_migrations ORDER BY id")]
        orgs = conn.execute('SELECT "id" FROM "organization"').fetchall()
    assert migrations == MIGRATIONS
    assert orgs == [(identity.organization_id,)]
    assert again.token == identity.token
    assert not again.created


def test_the_demo_password_is_stored_as_better_auth_hashes_it_and_kept_while_unchanged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "d1.sqlite3"
    apply_migrations(path)
    identity = seed_demo(path, secret=SECRET, password="first-password")
    stored = _password_hash(path, identity.user_id)
    salt, _, key = stored.partition(":")
    assert (len(salt), len(key)) == (32, 128)  # 16-byte salt, 64-byte scrypt key, both hex
    assert verify_password(stored, "first-password")
    assert not verify_password(stored, "another")

    seed_demo(path, secret=SECRET, password="first-password")
    assert _password_hash(path, identity.user_id) == stored  # unchanged: not rewritten
    seed_demo(path, secret=SECRET, password="second-password")
    assert verify_password(_password_hash(path, identity.user_id), "second-password")


def _password_hash(path: Path, user_id: str) -> str:
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            'SELECT "password" FROM "account" WHERE "userId" = ? AND "providerId" = ?',
            (user_id, "credential"),
        ).fetchone()
    return str(row[0])
