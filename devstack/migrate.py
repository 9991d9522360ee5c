"""Apply `worker/migrations/*.sql` to a SQLite file the way `wrangler d1 migrations apply` does.

Progress is recorded in wrangler's own `d1_migrations` table (id, name = file name, applied_at), so
a database migrated here can later be handed to wrangler and vice versa. Idempotent: only missing
migrations run, each in its own transaction.

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
    """Apply what is missing; returns the names applied now."""
    if isinstance(target, sqlite3.Connection):
        return _apply(target, migrations_dir)
    conn = connect(target)
    try:
        return _apply(conn, migrations_dir)
    finally:
        conn.close()


def _apply(conn: sqlite3.Connection, migrations_dir: Path) -> list[str]:
    if conn.isolation_level is not None:
        raise ValueError("apply_migrations needs an autocommit connection (isolation_level=None)")
    conn.execute(_MIGRATIONS_TABLE)
    applied: list[str] = []
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
