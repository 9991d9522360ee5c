"""The demo identity of `make dev`: one user, owner of one organization, with a live session.

Idempotent, so a restarted stack keeps the same organization (and its Connect account): the user
is found by e-mail, the organization through the user's `owner` membership, and a session is
reused while it has more than a day to live. The bearer token is Better Auth's real signed form
(`<token>.<base64 HMAC-SHA256>` with the stack's `BETTER_AUTH_SECRET`), made by `devstack.seed`.
With a password, the user's credential account gets Better Auth's hash of it (rewritten only when
it does not match), so the demo user can sign in to the auth app.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from connect_worker.clock import iso_ms
from connect_worker.session_tokens import sign

from devstack.passwords import hash_password, verify_password
from devstack.seed import add_member, create_organization, create_session, create_user
from devstack.sqlite_d1 import connect

__all__ = ["DEMO_EMAIL", "DemoIdentity", "seed_demo"]

DEMO_EMAIL = "demo@example.com"
DEMO_NAME = "Demo Owner"
DEMO_ORG_NAME = "Demo Shop"
DEMO_ORG_SLUG = "demo-shop"
_MIN_SESSION_LEFT_SECONDS = 24 * 3600


@dataclass(frozen=True, kw_only=True)
class DemoIdentity:
    user_id: str
    user_email: str
    organization_id: str
    session_id: str
    token: str  # signed, as the browser sends it after `Bearer `
    created: bool


def seed_demo(
    path: Path, *, secret: str, password: str | None = None, now: float | None = None
) -> DemoIdentity:
    moment = time.time() if now is None else now
    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            identity = _seed(conn, secret=secret, now=moment)
            if password is not None:
                _set_password(conn, user_id=identity.user_id, password=password, now=moment)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return identity
    finally:
        conn.close()


def _seed(conn: sqlite3.Connection, *, secret: str, now: float) -> DemoIdentity:
    created = False
    row = conn.execute('SELECT "id" FROM "user" WHERE "email" = ?', (DEMO_EMAIL,)).fetchone()
    if row is None:
        user_id = create_user(conn, name=DEMO_NAME, email=DEMO_EMAIL, email_verified=True, now=now)
        created = True
    else:
        user_id = str(row[0])

    row = conn.execute(
        'SELECT o."id" FROM "organization" o JOIN "member" m ON m."organizationId" = o."id" '
        'WHERE m."userId" = ? AND m."role" = \'owner\' AND o."slug" = ?',
        (user_id, DEMO_ORG_SLUG),
    ).fetchone()
    if row is None:
        org_id = create_organization(conn, name=DEMO_ORG_NAME, slug=DEMO_ORG_SLUG, now=now)
        add_member(conn, organization_id=org_id, user_id=user_id, role="owner", now=now)
        created = True
    else:
        org_id = str(row[0])

    row = conn.execute(
        'SELECT "id", "token" FROM "session" WHERE "userId" = ? AND "expiresAt" > ? '
        'AND "activeOrganizationId" = ? ORDER BY "expiresAt" DESC LIMIT 1',
        (user_id, iso_ms(now + _MIN_SESSION_LEFT_SECONDS), org_id),
    ).fetchone()
    if row is None:
        session = create_session(
            conn, user_id=user_id, secret=secret, active_organization_id=org_id, now=now
        )
        session_id, token = session.session_id, session.signed_token
        created = True
    else:
        session_id, raw = str(row[0]), str(row[1])
        token = f"{raw}.{sign(raw, secret)}"
    return DemoIdentity(
        user_id=user_id,
        user_email=DEMO_EMAIL,
        organization_id=org_id,
        session_id=session_id,
        token=token,
        created=created,
    )


def _set_password(conn: sqlite3.Connection, *, user_id: str, password: str, now: float) -> None:
    row = conn.execute(
        'SELECT "id", "password" FROM "account" '
        'WHERE "userId" = ? AND "providerId" = \'credential\'',
        (user_id,),
    ).fetchone()
    if row is None:
        raise RuntimeError(f"{DEMO_EMAIL} has no credential account")
    if row[1] is not None and verify_password(str(row[1]), password):
        return
    conn.execute(
        'UPDATE "account" SET "password" = ?, "updatedAt" = ? WHERE "id" = ?',
        (hash_password(password), iso_ms(now), row[0]),
    )
