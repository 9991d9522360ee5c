"""Better Auth-shaped rows, written exactly as the real library writes them.

32-char `[A-Za-z0-9]` ids and session tokens, ISO-8601 UTC millisecond timestamps (`…Z`), booleans
as 0/1, sessions that live 7 days, a `credential` account per user. The signed token is what the
browser holds: `<token>.<base64 HMAC-SHA256>` (see `connect_worker.session_tokens`). Used by tests,
the demo and `make dev`.
"""

from __future__ import annotations

import secrets
import sqlite3
import string
import time
from dataclasses import dataclass
from urllib.parse import quote

from connect_worker.clock import iso_ms
from connect_worker.session_tokens import sign

__all__ = [
    "SESSION_TTL_SECONDS",
    "SeededSession",
    "add_member",
    "create_organization",
    "create_session",
    "create_user",
    "new_id",
]

SESSION_TTL_SECONDS = 7 * 24 * 3600
_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    """Better Auth's `generateId()`: 32 characters of `[A-Za-z0-9]`."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(32))


@dataclass(frozen=True, slots=True)
class SeededSession:
    session_id: str
    user_id: str
    token: str  # the raw session token, = session.token
    signed_token: str  # `<token>.<sig>` as in `set-auth-token` (decoded)
    signed_token_urlencoded: str  # as in the `better-auth.session_token` cookie
    expires_at: str


def _now(now: float | None) -> str:
    return iso_ms(time.time() if now is None else now)


def create_user(
    conn: sqlite3.Connection,
    *,
    name: str,
    email: str,
    email_verified: bool = False,
    now: float | None = None,
) -> str:
    user_id, at = new_id(), _now(now)
    conn.execute(
        'INSERT INTO "user" ("id", "name", "email", "emailVerified", "image", "createdAt", '
        '"updatedAt") VALUES (?, ?, ?, ?, NULL, ?, ?)',
        (user_id, name, email, 1 if email_verified else 0, at, at),
    )
    conn.execute(
        'INSERT INTO "account" ("id", "accountId", "providerId", "userId", "createdAt", '
        "\"updatedAt\") VALUES (?, ?, 'credential', ?, ?, ?)",
        (new_id(), user_id, user_id, at, at),
    )
    return user_id


def create_organization(
    conn: sqlite3.Connection, *, name: str, slug: str, now: float | None = None
) -> str:
    org_id = new_id()
    conn.execute(
        'INSERT INTO "organization" ("id", "name", "slug", "logo", "createdAt", "metadata") '
        "VALUES (?, ?, ?, NULL, ?, NULL)",
        (org_id, name, slug, _now(now)),
    )
    return org_id


def add_member(
    conn: sqlite3.Connection,
    *,
    organization_id: str,
    user_id: str,
    role: str,
    now: float | None = None,
) -> str:
    member_id = new_id()
    conn.execute(
        'INSERT INTO "member" ("id", "organizationId", "userId", "role", "createdAt") '
        "VALUES (?, ?, ?, ?, ?)",
        (member_id, organization_id, user_id, role, _now(now)),
    )
    return member_id


def create_session(
    conn: sqlite3.Connection,
    *,
    user_id: str,
    secret: str,
    active_organization_id: str | None = None,
    now: float | None = None,
    ttl_seconds: float = SESSION_TTL_SECONDS,
) -> SeededSession:
    moment = time.time() if now is None else now
    session_id, token = new_id(), new_id()
    at, expires_at = iso_ms(moment), iso_ms(moment + ttl_seconds)
    conn.execute(
        'INSERT INTO "session" ("id", "expiresAt", "token", "createdAt", "updatedAt", '
        '"ipAddress", "userAgent", "userId", "activeOrganizationId") '
        "VALUES (?, ?, ?, ?, ?, '', '', ?, ?)",
        (session_id, expires_at, token, at, at, user_id, active_organization_id),
    )
    signed = f"{token}.{sign(token, secret)}"
    return SeededSession(
        session_id=session_id,
        user_id=user_id,
        token=token,
        signed_token=signed,
        signed_token_urlencoded=quote(signed, safe=""),
        expires_at=expires_at,
    )
