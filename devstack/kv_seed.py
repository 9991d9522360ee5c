"""A session written to the local SESSIONS_KV file the way better-auth 1.7 writes it to
`secondaryStorage` (its internal adapter's `createSession`; the format is in
tests/fixtures/better_auth_kv/README.md), for `make dev` with BETTER_AUTH_SESSION_STORAGE=secondary.

The demo session is seeded as a D1 row first (`devstack.seed_demo`, one code path for both modes)
and mirrored here: key = the token, value = `{"session", "user"}` JSON with ISO dates, expiring
with the session, and the user's `active-sessions-<userId>` list. The real library reads it back
(tests/worker/test_kv_sessions_live.py).
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

from connect_worker.clock import parse_timestamp

from devstack.sqlite_kv import write_entries

__all__ = ["mirror_session"]

_SESSION_COLUMNS = (
    "id",
    "ipAddress",
    "userAgent",
    "expiresAt",
    "userId",
    "token",
    "createdAt",
    "updatedAt",
    "activeOrganizationId",
)
_USER_COLUMNS = ("name", "email", "emailVerified", "image", "createdAt", "updatedAt", "id")


def _row(conn: sqlite3.Connection, sql: str, *params: Any) -> dict[str, Any]:
    cursor = conn.execute(sql, params)
    found = cursor.fetchone()
    if found is None:
        raise LookupError("no such row")
    return dict(zip([c[0] for c in cursor.description], found, strict=True))


def mirror_session(d1_path: Path, kv_path: Path, *, session_id: str) -> None:
    """Write the D1 session `session_id` (and its user) into the KV file as Better Auth would."""
    conn = sqlite3.connect(d1_path)
    try:
        columns = ", ".join(f'"{c}"' for c in _SESSION_COLUMNS)
        session = _row(conn, f'SELECT {columns} FROM "session" WHERE "id" = ?', session_id)
        columns = ", ".join(f'"{c}"' for c in _USER_COLUMNS)
        user = _row(conn, f'SELECT {columns} FROM "user" WHERE "id" = ?', session["userId"])
    finally:
        conn.close()
    if session["activeOrganizationId"] is None:
        del session["activeOrganizationId"]  # the library leaves it out until one is set
    user["emailVerified"] = bool(user["emailVerified"])
    expires = parse_timestamp(session["expiresAt"])
    if expires is None:
        raise ValueError("the session's expiresAt is not a timestamp")
    expiration = math.floor(expires)
    references = [{"token": session["token"], "expiresAt": round(expires * 1000)}]
    write_entries(
        kv_path,
        {
            session["token"]: (json.dumps({"session": session, "user": user}), expiration),
            f"active-sessions-{user['id']}": (json.dumps(references), expiration),
        },
    )
