"""Better Auth sessions kept in `secondaryStorage` (Workers KV) instead of the `session` table.

What better-auth 1.7 writes there (`createSession`/`updateSession` of its internal adapter; real
output in tests/fixtures/better_auth_kv/):
- key: the session token itself; value: JSON `{"session": {…the session, dates as ISO text…},
  "user": {…}}`; TTL: the seconds left until `session.expiresAt`.
- `active-sessions-<userId>`: the user's tokens and expiries (not needed to verify one token).
- `revoked-sessions-before-<userId>`: epoch milliseconds, written when all of a user's sessions
  are revoked (their tokens are deleted too); a session created before it is revoked, so a value a
  KV replica still serves after the delete is refused, as the library refuses it.

Reading one token is the library's `findSession`: no value, a value that is not JSON, or a revoked
session → no session. Stricter than the library, the value must name the token it is stored under
and one user in `session.userId` and `user.id`, so no other key in the namespace (the lists above,
rate-limit counters) can pass for a session. Expiry is checked as the D1 path checks it; the user
and memberships are read from D1 by the caller, so a user deleted there has no session either.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from connect_worker.clock import parse_timestamp
from connect_worker.kv import KVNamespace

log = logging.getLogger("connect_worker")

# The Worker setting that says where the platform's Better Auth keeps sessions.
SETTING = "BETTER_AUTH_SESSION_STORAGE"
DATABASE = "database"  # the `session` table in D1 (Better Auth's default)
SECONDARY = "secondary"  # `secondaryStorage` only: the SESSIONS_KV binding
STORAGES = (DATABASE, SECONDARY)
BINDING = "SESSIONS_KV"
REVOKED_BEFORE = "revoked-sessions-before-"
_MAX_ID = 255  # longer is not an id Better Auth made (and would not fit a KV key with its prefix)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# What JavaScript's Number() reads from a decimal string (the revoked-before mark).
_JS_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

Id = str | int


@dataclass(frozen=True, slots=True)
class StoredSession:
    id: Id
    user_id: Id
    expires_at: str
    active_organization_id: Id | None
    created_ms: int


def _is_id(value: object) -> TypeGuard[Id]:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and 0 < len(value) <= _MAX_ID)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # JSON.parse refuses NaN and Infinity


def epoch_ms(value: object) -> int | None:
    """`new Date(value).getTime()` for Better Auth's ISO text, exactly (integer milliseconds)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


def parse(token: str, raw: str) -> StoredSession | None:
    """The session stored under `token`, or None when the value is not Better Auth's shape."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    session, user = data.get("session"), data.get("user")
    if not isinstance(session, dict) or not isinstance(user, dict):
        return None
    session_id, user_id = session.get("id"), session.get("userId")
    if session.get("token") != token or not _is_id(session_id):
        return None
    if not _is_id(user_id) or type(user.get("id")) is not type(user_id) or user["id"] != user_id:
        return None
    expires_at, active = session.get("expiresAt"), session.get("activeOrganizationId")
    created_ms = epoch_ms(session.get("createdAt"))
    if not isinstance(expires_at, str) or parse_timestamp(expires_at) is None:
        return None
    if created_ms is None or (active is not None and not _is_id(active)):
        return None
    return StoredSession(session_id, user_id, expires_at, active, created_ms)


async def find(kv: KVNamespace, token: str, *, now: float) -> StoredSession | None:
    """The live session for `token`, or None (absent, malformed or expired)."""
    raw = await kv.get(token)
    if raw is None:
        return None
    stored = parse(token, raw)
    if stored is None:
        # Never the token or the value: either would hand a log reader a session.
        log.warning("a session value in secondary storage is not Better Auth's shape: refused")
        return None
    expires_at = parse_timestamp(stored.expires_at)
    if expires_at is None or expires_at <= now:
        return None
    return stored


async def revoked(kv: KVNamespace, stored: StoredSession) -> bool:
    """Better Auth's `isRevokedSession`: created before the user's revoked-before mark."""
    mark = await kv.get(f"{REVOKED_BEFORE}{stored.user_id}")
    if mark is None or not _JS_DECIMAL.fullmatch(mark.strip()):
        return False  # Number(null) is 0 and Number("junk") NaN: neither revokes anything
    return stored.created_ms < float(mark.strip())
