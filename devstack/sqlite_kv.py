"""Workers KV on CPython: the core's KV interface over a SQLite file (the local stack, the tests).

One table, `kv (key, value, expiration)`, with `expiration` in epoch seconds as KV keeps it; the
Pyodide host's JS stand-in (`worker/pyodide_host/kv.mjs`) reads and writes the same file, so both
hosts see one namespace. KV's own rules are kept: keys of 1..512 UTF-8 bytes other than `.`/`..`,
`expirationTtl` of at least 60 s, a key gone once its expiration passes, failures as `KVError`
with KV's messages (`KV PUT failed: 400 Invalid expiration_ttl of 30. …`). Not reproduced: KV's
eventual consistency across locations (a test that needs a stale read writes the old value back).
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from connect_worker.clock import Clock
from connect_worker.kv import KVError

from devstack.private_paths import private_file

__all__ = ["SCHEMA", "SqliteKV", "write_entries"]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expiration INTEGER)"
)
MAX_KEY_BYTES = 512
MIN_EXPIRATION_TTL = 60


def _connect(path: str | Path) -> sqlite3.Connection:
    private_file(Path(path))  # it holds every session token
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(SCHEMA)
    return conn


def _check_key(key: str, method: str) -> None:
    if key == "":
        raise KVError(f"KV {method} failed: 400 Key names must not be empty")
    if key in (".", ".."):
        raise KVError(
            f'KV {method} failed: 400 Illegal key name "{key}". Please use a different name.'
        )
    size = len(key.encode())
    if size > MAX_KEY_BYTES:
        raise KVError(
            f"KV {method} failed: 414 UTF-8 encoded length of {size} exceeds key length limit "
            f"of {MAX_KEY_BYTES}."
        )


def _check_ttl(ttl: int) -> None:
    if ttl <= 0:
        raise KVError(
            f"KV PUT failed: 400 Invalid expiration_ttl of {ttl}. "
            "Please specify integer greater than 0."
        )
    if ttl < MIN_EXPIRATION_TTL:
        raise KVError(
            f"KV PUT failed: 400 Invalid expiration_ttl of {ttl}. "
            f"Expiration TTL must be at least {MIN_EXPIRATION_TTL}."
        )


class SqliteKV:
    """One namespace in one SQLite file; `now` is the host's clock (the tests move it)."""

    def __init__(self, path: str | Path, *, now: Clock = time.time) -> None:
        self.path = Path(path)
        self._now = now
        self._conn = _connect(path)
        self._lock = threading.Lock()
        self.reads = 0

    def _seconds(self) -> int:
        return math.floor(self._now())

    def _execute(self, method: str, sql: str, params: tuple[object, ...]) -> sqlite3.Cursor:
        with self._lock:
            try:
                return self._conn.execute(sql, params)
            except sqlite3.Error as exc:  # the store failing is KV failing: the core sees KVError
                raise KVError(f"KV {method} failed: 500 {exc}") from None

    async def get(self, key: str) -> str | None:
        _check_key(key, "GET")
        self.reads += 1
        row = self._execute(
            "GET",
            "SELECT value FROM kv WHERE key = ? AND (expiration IS NULL OR expiration > ?)",
            (key, self._seconds()),
        ).fetchone()
        return None if row is None else str(row[0])

    async def put(self, key: str, value: str, *, expiration_ttl: int | None = None) -> None:
        _check_key(key, "PUT")
        expiration = None
        if expiration_ttl is not None:
            _check_ttl(expiration_ttl)
            expiration = self._seconds() + expiration_ttl
        self._execute(
            "PUT",
            "INSERT INTO kv (key, value, expiration) VALUES (?, ?, ?) ON CONFLICT (key) "
            "DO UPDATE SET value = excluded.value, expiration = excluded.expiration",
            (key, value, expiration),
        )

    async def delete(self, key: str) -> None:
        _check_key(key, "DELETE")
        self._execute("DELETE", "DELETE FROM kv WHERE key = ?", (key,))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def write_entries(path: str | Path, entries: Mapping[str, tuple[str, int | None]]) -> None:
    """Store `key -> (value, expiration)` as they are (a namespace another writer left)."""
    conn = _connect(path)
    try:
        conn.executemany(
            "INSERT OR REPLACE INTO kv (key, value, expiration) VALUES (?, ?, ?)",
            [(key, value, expiration) for key, (value, expiration) in entries.items()],
        )
    finally:
        conn.close()
