"""A D1 database made from `schema.sql` (`wrangler d1 execute DB --file schema.sql`) is served.

Its schema already is the migrations' result, so nothing may re-run (the `ALTER TABLE`s would die
with "duplicate column name"): the migrations are recorded as applied, as wrangler records them.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import httpx

from devstack.migrate import apply_migrations, migration_files, schema_shape
from devstack.worker_host import serve_in_thread
from tests.fixtures.worker import ShiftableClock
from tests.worker.conftest import API_KEY, BETTER_AUTH, REPO, make_core

ALL = [p.name for p in migration_files()]


def _from_script(path: Path, script: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(script.read_text())
    conn.close()


def _recorded(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM d1_migrations ORDER BY id")]
    finally:
        conn.close()


def test_a_database_made_from_schema_sql_gets_its_migrations_recorded_not_rerun(
    tmp_path: Path,
) -> None:
    path = tmp_path / "d1.sqlite3"
    _from_script(path, REPO / "schema.sql")
    assert apply_migrations(path) == ALL
    assert _recorded(path) == ALL
    assert apply_migrations(path) == []


def test_the_worker_host_serves_a_database_made_from_schema_sql(tmp_path: Path) -> None:
    path = tmp_path / "d1.sqlite3"
    _from_script(path, REPO / "schema.sql")
    core = make_core(path, ShiftableClock())
    hosted = serve_in_thread(core.deps.config, path)
    try:
        response = httpx.get(f"{hosted.url}/api/internal/health", headers={"x-api-key": API_KEY})
    finally:
        hosted.stop()
        hosted.db.close()
        core.db.close()
    assert response.status_code == 200


def test_better_auth_tables_alone_count_as_the_baseline_and_the_rest_is_applied(
    tmp_path: Path,
) -> None:
    path = tmp_path / "d1.sqlite3"
    _from_script(path, BETTER_AUTH / "schema.sql")
    assert apply_migrations(path) == ALL
    fresh = tmp_path / "fresh.sqlite3"
    apply_migrations(fresh)
    with closing(sqlite3.connect(path)) as ours, closing(sqlite3.connect(fresh)) as theirs:
        assert schema_shape(ours) == schema_shape(theirs)
