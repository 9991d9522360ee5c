"""D1 on CPython: the Worker core's D1-shaped interface over one `sqlite3` connection.

D1 *is* SQLite, so the same SQL runs here unchanged. Like D1, a `batch` is one transaction and one
round trip; `round_trips` counts them so tests can hold the hot path to its budget. SQLite errors
become `D1Error`, the one failure type the core understands.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from connect_worker.d1 import D1Error, D1Result, Row, SqlValue
from connect_worker.request_log import add_d1_time

from devstack.private_paths import private_file

__all__ = ["SqliteD1", "SqliteStatement", "connect"]

BUSY_TIMEOUT_MS = 5000


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection configured like the host uses it (WAL, autocommit, FKs enforced as on D1).
    The file is created 0600 first: it holds every Better Auth session token."""
    if str(path) != ":memory:":
        private_file(Path(path))
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, cached_statements=512
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class SqliteStatement:
    __slots__ = ("_db", "params", "sql")

    def __init__(self, db: SqliteD1, sql: str, params: tuple[SqlValue, ...] = ()) -> None:
        self._db = db
        self.sql = sql
        self.params = params

    def bind(self, *values: SqlValue) -> SqliteStatement:
        for value in values:
            if value is not None and not isinstance(value, str | int | float | bytes):
                raise D1Error(f"D1_TYPE_ERROR: Type '{type(value).__name__}' not supported")
        return SqliteStatement(self._db, self.sql, values)

    async def first(self) -> Row | None:
        rows = self._db.execute(self).rows
        return rows[0] if rows else None

    async def all(self) -> list[Row]:
        return self._db.execute(self).rows

    async def run(self) -> D1Result:
        return self._db.execute(self)


class SqliteD1:
    """One shared connection; calls are serialized by a lock so threads may share it too."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn = connect(path)
        self._lock = threading.Lock()
        # By SQL text: whether it only reads (a batch of reads takes no write lock), and the names
        # of its result columns. Bounded: SQL is built from allow-listed columns only.
        self._reads: dict[str, bool] = {}
        self._names: dict[str, tuple[str, ...]] = {}
        self.round_trips = 0

    def prepare(self, sql: str) -> SqliteStatement:
        return SqliteStatement(self, sql)

    def execute(self, statement: SqliteStatement) -> D1Result:
        started = time.perf_counter()
        with self._lock:
            self.round_trips += 1
            try:
                return self._execute(statement)
            except sqlite3.Error as exc:
                raise D1Error(f"D1_ERROR: {exc}") from exc
            finally:
                add_d1_time(time.perf_counter() - started)  # the request's log line: D1 time

    async def batch(self, statements: Sequence[Any]) -> list[D1Result]:
        started = time.perf_counter()
        try:
            return self._batch(statements)
        finally:
            add_d1_time(time.perf_counter() - started)

    def _batch(self, statements: Sequence[Any]) -> list[D1Result]:
        stmts: list[SqliteStatement] = list(statements)
        if len(stmts) == 1:  # one statement is its own transaction: no BEGIN/COMMIT to pay for
            with self._lock:
                self.round_trips += 1
                try:
                    return [self._execute(stmts[0])]
                except sqlite3.Error as exc:
                    raise D1Error(f"D1_ERROR: {exc}") from exc
        read_only = all(self._is_read(s.sql) for s in stmts)
        with self._lock:
            self.round_trips += 1
            try:
                self._conn.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise D1Error(f"D1_ERROR: {exc}") from exc
            try:
                results = [self._execute(s) for s in stmts]
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise D1Error(f"D1_ERROR: {exc}") from exc
            except BaseException:
                self._rollback()
                raise
            return results

    def _is_read(self, sql: str) -> bool:
        read = self._reads.get(sql)
        if read is None:
            if len(self._reads) >= 1024:
                self._reads.clear()
            read = self._reads[sql] = sql.lstrip()[:6].upper() == "SELECT"
        return read

    def _execute(self, statement: SqliteStatement) -> D1Result:
        conn = self._conn
        before = conn.total_changes
        cursor = conn.execute(statement.sql, statement.params)
        # Rows as dicts built in C from the statement's column names, looked up once per SQL text
        # (the core names every column; no `SELECT *` whose columns a migration could change).
        names = self._names.get(statement.sql)
        if names is None:
            description = cursor.description or ()
            if len(self._names) >= 1024:
                self._names.clear()
            names = self._names[statement.sql] = tuple(column[0] for column in description)
        rows: list[Row] = [dict(zip(names, row, strict=True)) for row in cursor] if names else []
        return D1Result(rows=rows, changes=conn.total_changes - before)

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
