"""Apply `worker/migrations/*.sql` to a SQLite file the way `wrangler d1 migrations apply` does.

Progress is recorded in wrangler's own `d1_migrations` table (id, name = file name, applied_at), so
a database migrated here can later be handed to wrangler and vice versa. Idempotent: only missing
migrations run, each in its own transaction.

Better Auth's tables are not ours to create: `worker/migrations/0001` only checks that they are
there. An EMPTY database (the local stack's, a test's) is first given Better Auth's tables with
their default names (`better_auth_tables.sql`), as Better Auth's migrator would make them; a
database with any table in it never is.

A database with no migrations recorded may already hold their result — made from `schema.sql`
(`wrangler d1 execute DB --file schema.sql`). Re-running the `ALTER TABLE`s would fail with
"duplicate column name", so the longest run of migrations whose tables, columns and indexes the
database already has is recorded as applied instead, and only the rest runs.

    python -m devstack.migrate [path]   (default: $D1_DATABASE_PATH or .devstack/d1.sqlite3)
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

from devstack.sqlite_d1 import connect

__all__ = ["MIGRATIONS_DIR", "apply_migrations", "migration_files", "split_statements"]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "worker" / "migrations"
BETTER_AUTH_TABLES = Path(__file__).resolve().parent / "better_auth_tables.sql"
DEFAULT_DB_PATH = Path(".devstack") / "d1.sqlite3"

# Verbatim from wrangler's D1 migrations code, so both tools share the table.
_MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS d1_migrations(
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		name       TEXT UNIQUE,
		applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);"""


def migration_files(migrations_dir: Path = MIGRATIONS_DIR) -> list[Path]:
    return sorted(migrations_dir.glob("*.sql"))


def split_statements(script: str) -> list[str]:
    """Complete SQL statements of a script, in order.

    Executed one by one inside our transaction: `executescript` would commit it first.
    """
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and any(
        ln.strip() and not ln.strip().startswith("--") for ln in buffer.splitlines()
    ):
        raise ValueError("migration ends with an incomplete statement")
    return statements


def apply_migrations(
    target: str | Path | sqlite3.Connection, *, migrations_dir: Path = MIGRATIONS_DIR
) -> list[str]:
    """Apply what is missing; returns the names applied (or found already applied) now."""
    if isinstance(target, sqlite3.Connection):
        return _apply(target, migrations_dir)
    conn = connect(target)
    try:
        return _apply(conn, migrations_dir)
    finally:
        conn.close()


Shape = set[tuple[str, str]]


def schema_shape(conn: sqlite3.Connection) -> Shape:
    """(table, column) and ("index", name) pairs: what a migration adds, comparable across files."""
    shape: Shape = set()
    objects = conn.execute(
        "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index') "
        "AND name NOT LIKE 'sqlite_%' AND name != 'd1_migrations'"
    ).fetchall()
    for kind, name in objects:
        if kind == "index":
            shape.add(("index", name))
            continue
        for column in conn.execute("SELECT name FROM pragma_table_info(?)", (name,)):
            shape.add((name, column[0]))
    return shape


def _shape_after(files: list[Path]) -> Shape | None:
    """The shape `files` produce on an empty database; None if they do not apply cleanly."""
    scratch = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for path in [BETTER_AUTH_TABLES, *files]:
            for statement in split_statements(path.read_text(encoding="utf-8")):
                scratch.execute(statement)
        return schema_shape(scratch)
    except sqlite3.Error:
        return None
    finally:
        scratch.close()


def already_present(conn: sqlite3.Connection, files: list[Path]) -> list[Path]:
    """The longest prefix of `files` whose whole result the database already holds."""
    have = schema_shape(conn)
    if not have:
        return []
    for count in range(len(files), 0, -1):
        shape = _shape_after(files[:count])
        if shape is not None and shape <= have:
            return files[:count]
    return []


def _adopt_existing_schema(conn: sqlite3.Connection, files: list[Path]) -> list[str]:
    """On a database with nothing recorded, record the migrations its schema already reflects."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("SELECT 1 FROM d1_migrations LIMIT 1").fetchone() is not None:
            conn.execute("COMMIT")
            return []
        present = already_present(conn, files)
        for path in present:
            conn.execute("INSERT INTO d1_migrations (name) VALUES (?)", (path.name,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return [path.name for path in present]


def _create_better_auth_tables_if_empty(conn: sqlite3.Connection) -> None:
    """Better Auth's default tables in a database with no table at all (a fresh local one)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table'").fetchone():
            for statement in split_statements(BETTER_AUTH_TABLES.read_text(encoding="utf-8")):
                conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _apply(conn: sqlite3.Connection, migrations_dir: Path) -> list[str]:
    if conn.isolation_level is not None:
        raise ValueError("apply_migrations needs an autocommit connection (isolation_level=None)")
    _create_better_auth_tables_if_empty(conn)
    conn.execute(_MIGRATIONS_TABLE)
    # Recorded without running: their result is already there (counted as applied now).
    applied: list[str] = _adopt_existing_schema(conn, migration_files(migrations_dir))
    for path in migration_files(migrations_dir):
        # BEGIN IMMEDIATE, then re-check: two processes starting together apply each file once.
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = conn.execute("SELECT 1 FROM d1_migrations WHERE name = ?", (path.name,))
            if done.fetchone() is not None:
                conn.execute("COMMIT")
                continue
            for statement in split_statements(path.read_text(encoding="utf-8")):
                conn.execute(statement)
            conn.execute("INSERT INTO d1_migrations (name) VALUES (?)", (path.name,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(path.name)
    return applied


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else os.environ.get("D1_DATABASE_PATH", str(DEFAULT_DB_PATH)))
    applied = apply_migrations(path)
    print(f"{path}: applied {', '.join(applied) if applied else 'nothing (up to date)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
