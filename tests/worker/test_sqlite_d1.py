from __future__ import annotations

from pathlib import Path

import pytest
from connect_worker.d1 import D1Error

from devstack.migrate import apply_migrations
from devstack.sqlite_d1 import SqliteD1


@pytest.fixture
def db(tmp_path: Path) -> SqliteD1:
    path = tmp_path / "d1.sqlite3"
    apply_migrations(path)
    return SqliteD1(path)


async def test_a_failing_batch_leaves_no_partial_write(db: SqliteD1) -> None:
    ok = db.prepare(
        "INSERT INTO organization (id, name, slug, createdAt) VALUES (?, ?, ?, ?)"
    ).bind("o1", "One", "one", "2026-01-01T00:00:00.000Z")
    duplicate_slug = db.prepare(
        "INSERT INTO organization (id, name, slug, createdAt) VALUES (?, ?, ?, ?)"
    ).bind("o2", "Two", "one", "2026-01-01T00:00:00.000Z")
    with pytest.raises(D1Error) as excinfo:
        await db.batch([ok, duplicate_slug])
    assert excinfo.value.is_constraint
    assert await db.prepare("SELECT id FROM organization").all() == []
    # The connection is usable afterwards and a good batch commits.
    results = await db.batch([ok, db.prepare("SELECT id FROM organization")])
    assert results[0].changes == 1
    assert results[1].rows == [{"id": "o1"}]


async def test_round_trips_count_statements_and_batches(db: SqliteD1) -> None:
    start = db.round_trips
    await db.prepare("SELECT 1 AS one").first()
    await db.batch([db.prepare("SELECT 1"), db.prepare("SELECT 2"), db.prepare("SELECT 3")])
    assert db.round_trips - start == 2


async def test_unsupported_bind_types_and_bad_sql_raise_d1_errors(db: SqliteD1) -> None:
    with pytest.raises(D1Error):
        db.prepare("SELECT ?").bind(object())  # type: ignore[arg-type]
    with pytest.raises(D1Error):
        await db.prepare("SELEC nothing").run()


async def test_a_closed_database_reports_d1_errors(db: SqliteD1) -> None:
    db.close()
    with pytest.raises(D1Error):
        await db.prepare("SELECT 1").first()


async def test_a_one_statement_batch_is_one_round_trip_and_all_or_nothing(db: SqliteD1) -> None:
    insert = "INSERT INTO organization (id, name, slug, createdAt) VALUES (?, ?, ?, ?)"
    await db.batch([db.prepare(insert).bind("o1", "One", "one", "2026-01-01T00:00:00.000Z")])
    # One statement writing two rows, the second refused: neither is kept.
    two_rows = db.prepare(
        'INSERT INTO organization (id, name, slug, "createdAt") '
        "SELECT 'o2', 'Two', 'two', 'x' UNION ALL SELECT 'o3', 'Three', 'one', 'x'"
    )
    start = db.round_trips
    with pytest.raises(D1Error) as excinfo:
        await db.batch([two_rows])
    assert excinfo.value.is_unique_violation
    assert db.round_trips - start == 1
    rows = await db.batch([db.prepare("SELECT id FROM organization ORDER BY id")])
    assert rows[0].rows == [{"id": "o1"}]


async def test_rows_are_dicts_keyed_by_column_name_on_every_run(db: SqliteD1) -> None:
    query = db.prepare("SELECT ? AS a, ? AS b")
    assert await query.bind(1, "x").all() == [{"a": 1, "b": "x"}]
    assert await query.bind(2, None).first() == {"a": 2, "b": None}  # names reused, values fresh
    update = await db.prepare("UPDATE organization SET name = name").run()
    assert (update.rows, update.changes) == ([], 0)
