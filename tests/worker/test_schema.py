from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from devstack.migrate import (
    BETTER_AUTH_TABLES,
    MIGRATIONS_DIR,
    apply_migrations,
    split_statements,
)
from tests.fixtures.migrations import MIGRATIONS
from tests.worker.conftest import BETTER_AUTH, REPO

SCHEMA_SQL = REPO / "schema.sql"
_INTERNAL = ("d1_migrations", "sqlite_sequence")


def _normalize(sql: str) -> str:
    return " ".join(sql.split())


def describe(path: Path) -> dict[str, Any]:
    """Every object's SQL, columns, indexes and foreign keys, minus migration bookkeeping."""
    conn = sqlite3.connect(path)
    try:
        objects = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE tbl_name NOT IN (?, ?) ORDER BY type, name",
            _INTERNAL,
        ).fetchall()
        out: dict[str, Any] = {}
        for kind, name, table, sql in objects:
            entry: dict[str, Any] = {"sql": _normalize(sql) if sql else None, "table": table}
            if kind == "table":
                entry["columns"] = conn.execute(f'PRAGMA table_info("{name}")').fetchall()
                entry["foreign_keys"] = conn.execute(
                    f'PRAGMA foreign_key_list("{name}")'
                ).fetchall()
                entry["indexes"] = sorted(
                    (row[1], row[2], row[3], row[4])
                    for row in conn.execute(f'PRAGMA index_list("{name}")').fetchall()
                )
            else:
                entry["index_columns"] = conn.execute(f'PRAGMA index_xinfo("{name}")').fetchall()
            out[f"{kind}:{name}"] = entry
        return out
    finally:
        conn.close()


def test_migration_files_are_numbered_from_0001_without_gaps() -> None:
    assert MIGRATIONS
    assert [name[:5] for name in MIGRATIONS] == [f"{n:04d}_" for n in range(1, len(MIGRATIONS) + 1)]
    assert MIGRATIONS[0] == "0001_better_auth.sql"


def test_migrations_on_an_empty_database_produce_exactly_schema_sql(tmp_path: Path) -> None:
    from_schema = tmp_path / "schema.sqlite3"
    conn = sqlite3.connect(from_schema)
    conn.executescript(SCHEMA_SQL.read_text())
    conn.close()
    migrated = tmp_path / "migrated.sqlite3"
    assert apply_migrations(migrated) == MIGRATIONS

    expected, actual = describe(from_schema), describe(migrated)
    assert set(actual) == set(expected)
    for name in expected:
        assert actual[name] == expected[name], name
    assert "organization_stripe_connect_account_id_uidx" in str(expected)


def test_the_local_stacks_better_auth_tables_are_better_auths_exactly(tmp_path: Path) -> None:
    ours = tmp_path / "ours.sqlite3"
    conn = sqlite3.connect(ours)
    conn.executescript(BETTER_AUTH_TABLES.read_text())
    conn.close()
    theirs = tmp_path / "theirs.sqlite3"
    conn = sqlite3.connect(theirs)
    conn.executescript((BETTER_AUTH / "schema.sql").read_text())
    conn.close()
    assert describe(ours) == describe(theirs)


def test_no_migration_creates_a_better_auth_table(tmp_path: Path) -> None:
    """Only the empty local database gets Better Auth's tables (from BETTER_AUTH_TABLES); on a
    database that has any table, the migrations stop at 0001 rather than make look-alikes."""
    path = tmp_path / "d1.sqlite3"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE platform_thing (x INTEGER)")
        conn.commit()
    with pytest.raises(sqlite3.IntegrityError, match="no Better Auth table user here"):
        apply_migrations(path)
    with closing(sqlite3.connect(path)) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert names == {"platform_thing", "d1_migrations", "sqlite_sequence"}
    for path_ in MIGRATIONS_DIR.glob("*.sql"):
        text = path_.read_text()
        for table in ("user", "session", "account", "organization", "member", "jwks"):
            assert f'CREATE TABLE "{table}"' not in text, path_.name
            assert f'CREATE TABLE IF NOT EXISTS "{table}"' not in text, path_.name


def test_migrations_apply_on_top_of_the_real_better_auth_database(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    shutil.copyfile(BETTER_AUTH / "auth.db", path)
    assert apply_migrations(path) == MIGRATIONS
    conn = sqlite3.connect(path)
    row = conn.execute(
        "SELECT slug, platform_fee_percent, platform_fee_fixed, onboarding_step, "
        "stripe_connect_status, charges_enabled, requirements_currently_due FROM organization"
    ).fetchone()
    conn.close()
    assert row == ("acme", 10.0, 0, "account_creation", None, 0, "[]")
    # Same shape as a database built from schema.sql (rows aside).
    fresh = tmp_path / "fresh.sqlite3"
    apply_migrations(fresh)
    assert describe(path) == describe(fresh)


def test_migrating_twice_applies_nothing_and_records_like_wrangler(tmp_path: Path) -> None:
    path = tmp_path / "d1.sqlite3"
    apply_migrations(path)
    assert apply_migrations(path) == []
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT id, name, applied_at FROM d1_migrations ORDER BY id").fetchall()
    columns = [c[1] for c in conn.execute("PRAGMA table_info(d1_migrations)").fetchall()]
    conn.close()
    assert [r[:2] for r in rows] == list(enumerate(MIGRATIONS, start=1))
    assert columns == ["id", "name", "applied_at"]


def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    migrations = tmp_path / "m"
    migrations.mkdir()
    (migrations / "0001_ok.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    (migrations / "0002_bad.sql").write_text("CREATE TABLE b (x INTEGER);\nNOT SQL;\n")
    path = tmp_path / "d1.sqlite3"
    with pytest.raises(sqlite3.Error):
        apply_migrations(path, migrations_dir=migrations)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    names = [r[0] for r in conn.execute("SELECT name FROM d1_migrations")]
    conn.close()
    assert "a" in tables
    assert "b" not in tables
    assert names == ["0001_ok.sql"]


def test_split_statements_keeps_comments_and_multiline_statements_whole() -> None:
    script = "-- c1\nCREATE TABLE a (\n  x TEXT DEFAULT ';'\n);\n-- trailing\n"
    assert split_statements(script) == ["-- c1\nCREATE TABLE a (\n  x TEXT DEFAULT ';'\n);"]


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("UPDATE organization SET platform_fee_percent = ?", (-1,)),
        ("UPDATE organization SET onboarding_step = ?", ("bogus",)),
        ("UPDATE organization SET stripe_connect_status = ?", ("enabled",)),
        ("UPDATE organization SET charges_enabled = ?", (2,)),
    ],
)
def test_connect_columns_refuse_values_outside_their_domain(
    tmp_path: Path, sql: str, params: tuple[Any, ...]
) -> None:
    path = tmp_path / "auth.db"
    shutil.copyfile(BETTER_AUTH / "auth.db", path)
    apply_migrations(path)
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(sql, params)
    conn.close()


def test_transfer_ledger_refuses_negative_or_inconsistent_money(tmp_path: Path) -> None:
    path = tmp_path / "d1.sqlite3"
    apply_migrations(path)
    conn = sqlite3.connect(path)
    insert = (
        "INSERT INTO connect_transfer (organization_id, idempotency_key, request_hash, "
        "gross_amount, fee_amount, net_amount, currency, stripe_account_id, created_at, "
        "updated_at) VALUES ('o', ?, 'h', ?, ?, ?, 'usd', 'acct_1', 't', 't')"
    )
    conn.execute(insert, ("k1", 100, 10, 90))
    for key, gross, fee, net in [("k2", 100, -10, 110), ("k3", 100, 10, 80)]:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(insert, (key, gross, fee, net))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(insert, ("k1", 100, 10, 90))
    conn.close()


def test_0004_keeps_every_webhook_event_row_and_allows_rejected(tmp_path: Path) -> None:
    staged = tmp_path / "m"
    staged.mkdir()
    for name in ("0001_better_auth.sql", "0002_connect.sql"):
        shutil.copy(MIGRATIONS_DIR / name, staged)
    path = tmp_path / "d1.sqlite3"
    apply_migrations(path, migrations_dir=staged)
    conn = sqlite3.connect(path)
    conn.execute(
        'INSERT INTO "connect_webhook_event" VALUES '
        "('evt_1', 'account.updated', 5, 'acct_1', 'processed', 'c', NULL, 2, NULL, 't', 'p')"
    )
    conn.commit()
    conn.close()
    shutil.copy(MIGRATIONS_DIR / "0004_webhook_event_rejected.sql", staged)
    assert apply_migrations(path, migrations_dir=staged) == ["0004_webhook_event_rejected.sql"]
    conn = sqlite3.connect(path)
    rows = conn.execute('SELECT * FROM "connect_webhook_event"').fetchall()
    conn.execute(
        'INSERT INTO "connect_webhook_event" ("event_id", "event_type", "event_created", '
        "\"status\", \"received_at\") VALUES ('evt_2', 'x', 1, 'rejected', 't')"
    )
    conn.close()
    assert rows == [
        ("evt_1", "account.updated", 5, "acct_1", "processed", "c", None, 2, None, "t", "p")
    ]
